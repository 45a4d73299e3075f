"""A feedback report per submission, in Markdown, that an instructor can hand back.

Like nbgrader's `generate_feedback`, but from the grade itself: the score, each
task with its points and what was wrong (the first failing case, expected
against received, and the hint), and notes on the notebook's cells.

Example:

>>> report = {"notebook": "alice.ipynb", "lesson": "03", "score": 1, "max_score": 3, "errors": [],
...           "tasks": [{"name": "causal_mask", "points": 1, "max_points": 1, "passed": True,
...                      "message": "all 2 cases correct"},
...                     {"name": "attention_weights", "points": 0, "max_points": 2, "passed": False,
...                      "message": "no function named `attention_weights` is defined in the notebook"}]}
>>> print(feedback_markdown(report).splitlines()[0])
# Feedback on alice.ipynb: 1 / 3
"""

from pathlib import Path


def feedback_markdown(report):
    """The Markdown feedback for one grade (a `grade_notebook` report)."""
    name = Path(report["notebook"]).name
    lines = [f"# Feedback on {name}: {report['score']:g} / {report['max_score']:g}", ""]
    if report.get("lesson"):
        lines += [f"Graded as the exercise of lesson {report['lesson']}.", ""]
    if report["tasks"]:
        lines += ["| task | points | result |", "| --- | ---: | --- |"]
        for task in report["tasks"]:
            verdict = "correct" if task["passed"] else "not yet"
            lines.append(f"| `{task['name']}` | {task['points']:g} / {task['max_points']:g} | {verdict} |")
        lines.append("")
        for task in report["tasks"]:
            if not task["passed"]:
                message = task["message"].replace("\n", " ")
                lines += [f"## `{task['name']}`", "", message, ""]
    if report["errors"]:
        lines += ["## Notes on your notebook", ""]
        lines += [f"- {error}" for error in report["errors"]]
        lines.append("")
    return "\n".join(lines)


def write_feedback(report, folder):
    """Writes `folder/<notebook name>.md` and returns its path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (Path(report["notebook"]).stem + ".md")
    path.write_text(feedback_markdown(report))
    return path
