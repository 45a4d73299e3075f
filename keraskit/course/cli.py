"""The `keraskit` command line.

    keraskit grade NOTEBOOK|DIR [--json OUT] [--csv OUT] [--feedback DIR] [--timeout S]
        [--notebook-timeout S] [--seed N] [--jobs N] [--extra-tests DIR] [--no-sandbox]

The arguments are parsed before the grader is imported, so `keraskit --help`
works without the `grading` extra; `grade` then names that extra when its
dependencies are missing, and sets KERAS_BACKEND, when unset, for the learner's
kernel (see `default_backend`). Keras itself comes with `import keraskit`,
which picks an installed backend when Keras's default is not installed.
"""

import argparse
import concurrent.futures
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
    """The grader module, or `None` and a message saying what to install."""
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
            from keraskit.course.grading import grader
        except ImportError as error:  # found by find_spec yet failing to import: name it if ours
            missing = (error.name or "").split(".")[0]
            if missing not in GRADING_MODULES:
                raise
        else:
            return grader, None
    return None, (
        f"keraskit grade needs {missing}, which is not installed. "
        'Install the grader\'s dependencies with: pip install "keraskit[grading]"'
    )


def _failed_report(notebook, error):
    return {
        "notebook": str(notebook),
        "lesson": None,
        "score": 0,
        "max_score": 0,
        "graded": False,
        "tasks": [],
        "errors": [f"grading failed: {type(error).__name__}: {error}"],
    }


class _Gradebook:
    """The CSV, one row per notebook, written and flushed as each grade comes in.

    A batch stopped half-way keeps the rows of every notebook graded so far. Columns:
    notebook, score, max_score, one per task of the notebooks' lessons (in lesson order;
    a notebook of another lesson leaves them empty), errors.
    """

    def __init__(self, path, task_names):
        self.file = open(path, "w", newline="")  # noqa: SIM115 (closed by close())
        self.names = task_names
        self.writer = csv.writer(self.file)
        self.writer.writerow(["notebook", "lesson", "score", "max_score", *self.names, "errors"])
        self.file.flush()

    def add(self, report):
        points = {task["name"]: task["points"] for task in report["tasks"]}
        row = [
            Path(report["notebook"]).name,
            report.get("lesson") or "",
            report["score"],
            report["max_score"],
        ]
        self.writer.writerow(
            [*row, *[points.get(name, "") for name in self.names], " | ".join(report["errors"])]
        )
        self.file.flush()

    def close(self):
        self.file.close()


def _task_columns(grader, notebooks, registry):
    """The task names of every lesson the notebooks are graded as, in lesson order."""
    registry = registry if registry is not None else grader.default_registry()
    lessons = set()
    for notebook in notebooks:
        try:
            lessons.add(grader.lesson_of(notebook, grader.nbformat.read(notebook, as_version=4)))
        except Exception:  # unreadable: its row has no task columns
            lessons.add(grader.lesson_of(notebook))
    return [task.name for task in registry if task.lesson in lessons]


def grade_command(args):
    grader, problem = _load_grader()
    if problem:
        print(problem, file=sys.stderr)
        return 2

    target = Path(args.path)
    if not target.exists():
        print(f"keraskit grade: {target} does not exist", file=sys.stderr)
        return 2
    notebooks = sorted(target.glob("*.ipynb")) if target.is_dir() else [target]
    if target.is_dir() and not notebooks:
        print(f"keraskit grade: no .ipynb files in {target}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"keraskit grade: --jobs must be at least 1, received {args.jobs}", file=sys.stderr)
        return 2
    if not args.no_sandbox:
        try:
            grader.sandbox.check_available()
        except grader.SandboxUnavailable as error:
            print(f"keraskit grade: {error}", file=sys.stderr)
            return 2
    # Hidden tests are loaded once for the whole batch, not once per notebook.
    try:
        registry = grader.load_extra_tests(args.extra_tests) if args.extra_tests else None
    except (ImportError, ValueError) as error:  # a missing folder or a file it cannot use
        print(f"keraskit grade: --extra-tests {args.extra_tests}: {error}", file=sys.stderr)
        return 2
    limits = grader.Limits(memory_gb=args.memory, seconds=args.notebook_timeout)

    def grade(notebook):
        try:
            report = grader.grade_notebook(
                notebook,
                timeout=args.timeout,
                registry=registry,
                seed=args.seed,
                limits=limits,
                use_sandbox=not args.no_sandbox,
            )
        except Exception as error:  # one broken submission never stops the batch
            report = _failed_report(notebook, error)
        report["seed"] = args.seed
        return report

    from keraskit.course.grading import feedback

    gradebook = _Gradebook(args.csv, _task_columns(grader, notebooks, registry)) if args.csv else None
    reports = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            # Each grade waits on its own sandbox; threads are enough to run N of them at once.
            futures = [pool.submit(grade, notebook) for notebook in notebooks]
            for future in concurrent.futures.as_completed(futures):  # each row as soon as it is graded
                report = future.result()
                _print_table(report)
                reports[report["notebook"]] = report
                if gradebook:
                    gradebook.add(report)
                if args.feedback:
                    feedback.write_feedback(report, args.feedback)
    finally:
        if gradebook:
            gradebook.close()
    ordered = [reports[str(notebook)] for notebook in notebooks]
    if args.json:
        data = ordered[0] if len(ordered) == 1 and not target.is_dir() else ordered
        Path(args.json).write_text(json.dumps(data, indent=2))
    ungraded = [Path(report["notebook"]).name for report in ordered if not report.get("graded")]
    if ungraded:
        print(f"\nkeraskit grade: could not grade {len(ungraded)} of {len(ordered)}: {', '.join(ungraded)}")
        return 1
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="keraskit", description="keraskit course tools")
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser(
        "grade",
        help="grade an exercise notebook, or every notebook in a folder",
        description="Exit status: 0 every notebook graded, 1 some could not be graded, 2 usage error "
        "or no sandbox.",
    )
    grade.add_argument("path", help="a notebook, or a folder of notebooks")
    grade.add_argument("--json", metavar="OUT", help="write the scores as JSON")
    grade.add_argument("--csv", metavar="OUT", help="write one row per notebook, as each is graded")
    grade.add_argument("--feedback", metavar="DIR", help="write a Markdown feedback report per notebook")
    grade.add_argument(
        "--timeout",
        type=float,
        default=120,
        metavar="S",
        help="seconds allowed per cell and per task, all its cases together (default 120)",
    )
    grade.add_argument(
        "--notebook-timeout",
        type=float,
        default=600,
        metavar="S",
        help="seconds allowed for a whole notebook, cells and tasks (default 600)",
    )
    grade.add_argument(
        "--memory", type=float, default=16, metavar="GB", help="address space per process in GiB (default 16)"
    )
    grade.add_argument("--seed", type=int, help="seed for the drawn inputs, to reproduce a grade")
    grade.add_argument(
        "--jobs", type=int, default=1, metavar="N", help="grade N notebooks at once (default 1)"
    )
    grade.add_argument("--extra-tests", metavar="DIR", help="a folder of hidden tests (*.py)")
    grade.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run notebooks without the bubblewrap sandbox: only for notebooks you trust",
    )
    args = parser.parse_args(argv)
    return grade_command(args)


if __name__ == "__main__":
    sys.exit(main())
