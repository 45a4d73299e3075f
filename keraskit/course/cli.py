"""The `keraskit` command line.

    keraskit grade NOTEBOOK|DIR [--json OUT] [--csv OUT] [--timeout S] [--extra-tests DIR]

The arguments are parsed before the grader is imported, so `keraskit --help`
works without the `grading` extra; `grade` then names that extra when its
dependencies are missing, and sets KERAS_BACKEND, when unset, for the learner's
kernel (see `default_backend`). Keras itself comes with `import keraskit`,
which picks an installed backend when Keras's default is not installed.
"""

import argparse
import csv
import importlib.util
import json
import os
import sys
from pathlib import Path

# Keras's backends in the order `keraskit grade` prefers them when KERAS_BACKEND is unset.
BACKENDS = ("jax", "torch", "tensorflow")
# What the `grading` extra installs: the grader reads notebooks (nbformat) and runs them
# (nbclient) in a Python kernel (ipykernel).
GRADING_MODULES = ("nbformat", "nbclient", "ipykernel")


def default_backend():
    """The backend `keraskit grade` uses when KERAS_BACKEND is unset.

    The first of jax, torch and tensorflow that is installed; `None` when
    none is.

    Example:

    >>> default_backend() in ("jax", "torch", "tensorflow", None)
    True
    """
    for name in BACKENDS:
        if importlib.util.find_spec(name) is not None:
            return name
    return None


def _print_table(report, file=sys.stdout):
    print(f"\n{report['notebook']}", file=file)
    rows = [
        (task["name"], f"{task['points']:g}", f"{task['max_points']:g}", task["message"])
        for task in report["tasks"]
    ]
    width = max([len("task")] + [len(row[0]) for row in rows])
    print(f"  {'task':<{width}}  points  max  message", file=file)
    for name, points, maximum, message in rows:
        print(f"  {name:<{width}}  {points:>6}  {maximum:>3}  {message}", file=file)
    for error in report["errors"]:
        print(f"  note: {error}", file=file)
    print(f"  total: {report['score']:g} / {report['max_score']:g}", file=file)


def _load_grader():
    """`(grade_notebook, load_extra_tests)`, or `None` and a message saying what to install."""
    missing = next((name for name in GRADING_MODULES if importlib.util.find_spec(name) is None), None)
    if missing is None:
        backend = os.environ.get("KERAS_BACKEND") or default_backend()
        if backend is None:
            return None, (
                "keraskit grade needs a Keras backend, and none is installed. Install one with: "
                'pip install "keraskit[jax]" (or keraskit[torch], keraskit[tensorflow])'
            )
        # Set only now, for grading; the learner's kernel inherits it.
        os.environ["KERAS_BACKEND"] = backend
        try:
            from keraskit.course.grading.grader import grade_notebook, load_extra_tests
        except ImportError as error:  # found by find_spec yet failing to import: name it if ours
            missing = (error.name or "").split(".")[0]
            if missing not in GRADING_MODULES:
                raise
        else:
            return (grade_notebook, load_extra_tests), None
    return None, (
        f"keraskit grade needs {missing}, which is not installed. "
        'Install the grader\'s dependencies with: pip install "keraskit[grading]"'
    )


def grade_command(args):
    grader, problem = _load_grader()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    grade_notebook, load_extra_tests = grader

    target = Path(args.path)
    if not target.exists():
        print(f"keraskit grade: {target} does not exist", file=sys.stderr)
        return 2
    notebooks = sorted(target.glob("*.ipynb")) if target.is_dir() else [target]
    if target.is_dir() and not notebooks:
        print(f"keraskit grade: no .ipynb files in {target}", file=sys.stderr)
        return 2
    # Hidden tests are loaded once for the whole batch, not once per notebook.
    try:
        registry = load_extra_tests(args.extra_tests) if args.extra_tests else None
    except (ImportError, ValueError) as error:  # a missing folder or a file it cannot use
        print(f"keraskit grade: --extra-tests {args.extra_tests}: {error}", file=sys.stderr)
        return 2
    reports = []
    for notebook in notebooks:
        try:
            report = grade_notebook(notebook, timeout=args.timeout, registry=registry)
        except Exception as error:  # one broken submission never stops the batch
            report = {
                "notebook": str(notebook),
                "score": 0,
                "max_score": 0,
                "tasks": [],
                "errors": [f"grading failed: {type(error).__name__}: {error}"],
            }
        _print_table(report)
        reports.append(report)
    if args.json:
        data = reports[0] if len(reports) == 1 and not target.is_dir() else reports
        Path(args.json).write_text(json.dumps(data, indent=2))
    if args.csv:
        names = []
        for report in reports:
            names += [task["name"] for task in report["tasks"] if task["name"] not in names]
        with open(args.csv, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(["notebook", "score", "max_score", *names, "errors"])
            for report in reports:
                points = {task["name"]: task["points"] for task in report["tasks"]}
                writer.writerow(
                    [
                        Path(report["notebook"]).name,
                        report["score"],
                        report["max_score"],
                        *[points.get(name, "") for name in names],
                        " | ".join(report["errors"]),
                    ]
                )
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keraskit", description="keraskit course tools")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade an exercise notebook, or every notebook in a folder")
    grade.add_argument("path", help="a notebook, or a folder of notebooks")
    grade.add_argument("--json", metavar="OUT", help="write the scores as JSON")
    grade.add_argument("--csv", metavar="OUT", help="write one row per notebook (for a folder)")
    grade.add_argument(
        "--timeout",
        type=float,
        default=120,
        metavar="S",
        help="seconds allowed per cell and per task (default 120)",
    )
    grade.add_argument("--extra-tests", metavar="DIR", help="a folder of hidden tasks (*.py)")
    args = parser.parse_args(argv)
    return grade_command(args)


if __name__ == "__main__":
    sys.exit(main())
