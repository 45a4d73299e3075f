"""Grade a whole exercise notebook: run a copy in a sandbox, then check its functions here.

Trust nothing the notebook does. The grader draws every task's inputs, writes
them into a scratch folder, and starts the sandbox (`sandbox.py`), where
`runner.py` executes the notebook and calls each function on those inputs,
saving the raw outputs as `.npy` files (no pickles). Only after the sandbox and
every process in it are gone does the grader read those files and compare them
with the reference, in this process. The sandbox has no reference, no
`solutions/`, no network, and cannot see or signal this process; so redefining
`check`, patching keraskit, copying the task registry, hard-coding answers or
tampering with the reports earns nothing.

Every task is graded on its own: a result of the wrong kind (None, complex,
structured, objects), shape or value, an error, a timeout, or a file that cannot
be read costs that task only.
"""

import dataclasses
import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import numpy as np

from keraskit.course.grading import sandbox
from keraskit.course.grading.registry import default_registry, load_extra_tests
from keraskit.course.grading.sandbox import Limits, SandboxUnavailable
from keraskit.course.grading.tasks import Result, Returned
from keraskit.extras import require

nbformat = require("nbformat", "grading", "keraskit grade reads notebooks")
require("nbclient", "grading", "keraskit grade runs notebooks")

__all__ = ["Limits", "SandboxUnavailable", "draw_cases", "grade_notebook", "lesson_of", "load_extra_tests"]

# The largest output file (per case) and status file the grader will read.
MAX_OUTPUT_BYTES = 64 * 2**20
MAX_STATUS_BYTES = 2**20


@dataclasses.dataclass
class _RaisedInKernel(Exception):
    kind: str
    text: str

    def __str__(self):
        return self.text


def lesson_of(path, notebook=None):
    """The lesson a notebook is graded as: its metadata's, else the two digits its name starts with.

    Exercise notebooks carry `{"keraskit": {"lesson": "02"}}` in their metadata, so a
    submission renamed `alice.ipynb` is still graded as lesson 02.

    Args:
        path: the notebook's path.
        notebook: the notebook, read with nbformat (optional): its metadata wins.

    Returns:
        `"02"` for `02_positional_encoding.ipynb`; `None` if neither says.

    Example:

    >>> lesson_of("submissions/02_positional_encoding.ipynb"), lesson_of("notes.ipynb")
    ('02', None)
    >>> lesson_of("alice.ipynb", {"metadata": {"keraskit": {"lesson": "03"}}})
    '03'
    """
    if notebook is not None:
        lesson = str(notebook.get("metadata", {}).get("keraskit", {}).get("lesson", ""))
        if len(lesson) == 2 and lesson.isdigit():
            return lesson
    name = Path(path).name
    return name[:2] if name[:2].isdigit() else None


def draw_cases(tasks, seed=None):
    """Draws every task's cases, in order, from one generator: the same seed, the same inputs.

    Args:
        tasks: the `Task`s of a lesson.
        seed: an int, or None for fresh randomness.

    Returns:
        A list of `(task, cases)`.

    Example:

    >>> tasks = default_registry().tasks_for("03")
    >>> first, again = draw_cases(tasks, seed=7), draw_cases(tasks, seed=7)
    >>> first[1][1][0].args == again[1][1][0].args
    True
    """
    rng = np.random.default_rng(seed)
    return [(task, task.cases(rng)) for task in tasks]


def _encode_cases(cases, folder):
    """Writes the arrays of every case to one .npz, the rest to JSON."""
    arrays, spec = {}, []
    for index, case in enumerate(cases):
        args = []
        for position, value in enumerate(case.args):
            if isinstance(value, np.ndarray):
                key = f"c{index}_a{position}"
                arrays[key] = value
                args.append(["array", key, None])
            else:
                args.append(["value", None, value.item() if isinstance(value, np.generic) else value])
        kwargs = {}
        for key, value in case.kwargs.items():
            name = f"c{index}_k{key}"
            arrays[name] = np.asarray(value)
            kwargs[key] = name
        spec.append({"args": args, "kwargs": kwargs})
    np.savez(folder / "inputs.npz", **arrays)
    (folder / "spec.json").write_text(json.dumps(spec))


def _plain(path, kind=stat.S_ISREG):
    """Whether `path` and the folders up to the scratch folder are what they seem, not links.

    The notebook could leave a symbolic link or a FIFO where an output belongs, to make the
    grader read some other file or wait forever; `lstat` never follows links.
    """
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return kind(mode) and (kind is stat.S_ISDIR or _plain(Path(path).parent, stat.S_ISDIR))


def _read_json(path, default):
    try:
        if _plain(path) and path.stat().st_size <= MAX_STATUS_BYTES:
            return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    return default


def _read_outputs(folder, count):
    """One entry per case: an array, an exception, a `Returned`, or None where nothing came back."""
    report = _read_json(folder / "report.json", None)
    if not isinstance(report, list):
        return None
    outputs = []
    for index in range(count):
        entry = report[index] if index < len(report) else ["missing"]
        try:
            if entry is None:
                path = folder / f"{index}.npy"
                if not _plain(path):
                    raise ValueError("it is not a plain file")
                if path.stat().st_size > MAX_OUTPUT_BYTES:
                    raise ValueError(f"larger than {MAX_OUTPUT_BYTES // 2**20} MiB")
                outputs.append(np.load(path, allow_pickle=False))
            elif entry[0] == "raised":
                kind, text = str(entry[1]), str(entry[2])
                outputs.append(
                    NotImplementedError(text)
                    if kind == "NotImplementedError"
                    else _RaisedInKernel(kind, text)
                )
            elif entry[0] == "returned":
                outputs.append(Returned(str(entry[1])))
            else:  # "interrupted" or "missing": the task's time ran out first
                outputs.append(None)
        except Exception as error:  # a file the kernel broke or swapped: this case only
            outputs.append(_RaisedInKernel("an unreadable result", f"its output could not be read ({error})"))
    return outputs


def grade_notebook(
    path,
    timeout=120,
    extra_tests=None,
    backend=None,
    seed=None,
    registry=None,
    limits=None,
    use_sandbox=True,
):
    """Grades one notebook; returns the dict that `--json` writes.

    The notebook is graded on the tasks of its lesson (its metadata's, else the two
    digits its name starts with) in `registry`. To grade a batch with hidden tests,
    load them once with `registry = load_extra_tests(folder)` and pass
    `registry=registry` for each notebook; `extra_tests=folder` does the same for one.

    Args:
        path: the learner's notebook (never modified: a copy is executed).
        timeout: seconds allowed for each cell, and for each task (all its cases).
        extra_tests: a folder of hidden tests, added to a copy of `registry`.
        backend: `KERAS_BACKEND` for the kernel (default: this process's, else jax).
        seed: seed for the drawn inputs (default: fresh randomness every time); the
            same seed draws the same inputs, so a grade can be reproduced.
        registry: the `Registry` of tasks (default: a new `default_registry()`).
        limits: the sandbox's `Limits` (default: `Limits()`: 600 s for the notebook).
        use_sandbox: `False` runs the notebook without the sandbox: only for
            notebooks you trust (then nothing below holds).

    Returns:
        `{"notebook", "lesson", "score", "max_score", "graded", "tasks": [{"name",
        "points", "max_points", "passed", "message"}], "errors": [...]}`; `graded` is
        False when the notebook could not be graded at all.

    Raises:
        SandboxUnavailable: `use_sandbox` and no working bwrap; the message says how
            to install it.
    """
    path = Path(path)
    registry = default_registry() if registry is None else registry
    if extra_tests:
        registry = load_extra_tests(extra_tests, registry)
    limits = Limits() if limits is None else limits
    report = {"notebook": str(path), "lesson": None, "score": 0, "max_score": 0, "graded": False}
    report.update(tasks=[], errors=[])
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # not JSON, not a notebook: the same for the learner
        notebook = None
        report["errors"].append(f"not a readable notebook: {type(error).__name__}: {str(error)[:200]}")
    lesson = lesson_of(path, notebook)
    tasks = registry.tasks_for(lesson) if lesson else []
    report.update(lesson=lesson, max_score=sum(task.points for task in tasks))
    if not tasks:
        report["errors"].append(
            f"No graded tasks for {path.name}: neither its metadata (keraskit.lesson) nor its name "
            "gives a lesson that has an exercise (e.g. 02_positional_encoding.ipynb)."
        )
        return report
    if notebook is None:
        report["tasks"] = [
            _result(task, "the notebook could not be read, so nothing could be graded") for task in tasks
        ]
        return report
    if use_sandbox:
        sandbox.check_available()

    drawn = draw_cases(tasks, seed)  # drawn here, before anything of the notebook runs
    work = Path(tempfile.mkdtemp(prefix="keraskit-grade-"))
    try:
        finished = _run(notebook, drawn, work, timeout, backend, limits, use_sandbox)
        # From here on the sandbox and all its processes are gone: read what they left.
        status = _read_json(work / "status.json", {})
        status = status if isinstance(status, dict) else {}
        report["errors"] += [str(note)[:300] for note in status.get("notes", [])][:50]
        if not finished:
            report["errors"].append(f"the notebook used all of its {limits.seconds:g} s and was stopped")
        outcomes = status.get("tasks", {}) if isinstance(status.get("tasks"), dict) else {}
        results = [
            _grade_task(task, cases, work / task.name, outcomes.get(task.name), timeout, finished, limits)
            for task, cases in drawn
        ]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report["tasks"] = [dataclasses.asdict(result) for result in results]
    report["score"] = sum(result.points for result in results)
    report["graded"] = True
    return report


def _zero(task, message):
    """The result of a task that earned nothing, with the message that says why."""
    return Result(task.name, 0, task.points, False, message)


def _result(task, message):
    return dataclasses.asdict(_zero(task, message))


def _run(notebook, drawn, work, timeout, backend, limits, use_sandbox):
    """Writes the job into `work` and runs it; True if it finished within `limits.seconds`."""
    for task, cases in drawn:
        (work / task.name).mkdir()
        _encode_cases(cases, work / task.name)
    nbformat.write(notebook, work / "notebook.ipynb")
    (work / "job.json").write_text(
        json.dumps({"timeout": timeout, "tasks": [task.name for task, _ in drawn]})
    )
    environment = {
        "KERAS_BACKEND": backend or os.environ.get("KERAS_BACKEND", "jax"),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "MPLBACKEND": "Agg",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # The stub and the log live outside the sandbox's reach.
    private = Path(tempfile.mkdtemp(prefix="keraskit-sandbox-"))
    try:
        if use_sandbox:
            arguments = sandbox.command(work, sandbox.write_stub(private / "stub"), environment)
        else:
            environment = {**os.environ, **environment}
            arguments = ["env", *[f"{key}={value}" for key, value in environment.items()]]
            arguments += [sys.executable, str(Path(__file__).with_name("runner.py")), str(work)]
        return sandbox.run(arguments, limits, private / "log.txt")
    finally:
        shutil.rmtree(private, ignore_errors=True)


def _grade_task(task, cases, folder, outcome, timeout, finished, limits):
    """Grades one task from the files the sandbox left; anything odd costs this task only."""
    outcome = outcome if isinstance(outcome, dict) else {}
    too_slow = f"`{task.name}` did not finish within {timeout:g} s (an endless loop?)"
    if outcome.get("outcome") == "killed":
        return _zero(task, too_slow + "; it ignored the interrupt and was stopped")
    if outcome.get("outcome") == "interrupted":  # even if it caught the interrupt and returned after
        return _zero(task, too_slow)
    if outcome.get("outcome") == "dead":
        return _zero(
            task, f"the kernel died while running `{task.name}` (it exited, crashed or ran out of memory)"
        )
    outputs = _read_outputs(folder, len(cases))
    if outputs is None:
        if not finished:
            why = f"not graded: the notebook used all of its {limits.seconds:g} s before this task ran"
        else:
            why = f"`{task.name}` could not be called (the kernel did not report back)"
        return _zero(task, why)
    if any(output is None for output in outputs):
        return _zero(task, too_slow)
    first = outputs[0]
    if (
        isinstance(first, _RaisedInKernel)
        and first.kind == "NameError"
        and first.text.startswith("no function")
    ):
        return _zero(task, f"no function named `{task.name}` is defined in the notebook")
    try:
        return task.grade_outputs(cases, outputs)
    except Exception as error:  # a result the comparison cannot handle: explained, this task only
        return Result(
            task.name,
            0,
            task.points,
            False,
            f"the result could not be compared: {type(error).__name__}: {error}"[:300],
        )
