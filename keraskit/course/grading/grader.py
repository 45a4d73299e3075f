"""Grade a whole exercise notebook: run a copy in a fresh kernel, then check its functions.

Trust nothing in the learner's kernel. The kernel only *computes*: for each
task the grader draws fresh inputs, the kernel calls the learner's function on
them and saves the raw outputs as `.npy` files (no pickles, so nothing it
writes can run code here). The comparison with the reference happens in this
process, which the notebook cannot reach. So redefining `check`, patching
keraskit or NumPy inside the notebook, or printing "correct" earns nothing;
and since inputs are drawn at grading time, outputs hard-coded for one input
fail.
"""

import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from keraskit.course.grading.registry import default_registry, load_extra_tests
from keraskit.course.grading.tasks import Result
from keraskit.extras import require

nbformat = require("nbformat", "grading", "keraskit grade reads notebooks")
NotebookClient = require("nbclient", "grading", "keraskit grade runs notebooks").NotebookClient
_nbclient_errors = require("nbclient.exceptions", "grading", "keraskit grade runs notebooks")
CellExecutionError = _nbclient_errors.CellExecutionError
CellTimeoutError = _nbclient_errors.CellTimeoutError
DeadKernelError = _nbclient_errors.DeadKernelError

__all__ = ["grade_notebook", "lesson_of", "load_extra_tests"]  # load_extra_tests: from the registry

# Runs inside the learner's kernel, once per task. Names start with "_keraskit_" so they
# do not clash with the learner's; modules are imported under fresh names.
CALL_CELL = """
_keraskit_json, _keraskit_np = __import__("json"), __import__("numpy")
_keraskit_inputs = _keraskit_np.load({inputs!r}, allow_pickle=False)
_keraskit_spec = _keraskit_json.loads(open({spec!r}).read())
_keraskit_function = globals().get({name!r})
_keraskit_report = []
for _keraskit_index, _keraskit_case in enumerate(_keraskit_spec):
    _keraskit_args = [_keraskit_inputs[key] if kind == "array" else value
                      for kind, key, value in _keraskit_case["args"]]
    _keraskit_kwargs = {{key: _keraskit_inputs[array] for key, array in _keraskit_case["kwargs"].items()}}
    try:
        if _keraskit_function is None:
            raise NameError("no function named {name} is defined")
        _keraskit_out = _keraskit_function(*_keraskit_args, **_keraskit_kwargs)
        try:  # NumPy results, and most backend tensors, convert without importing Keras
            _keraskit_out = _keraskit_np.asarray(_keraskit_out)
        except Exception:
            _keraskit_out = _keraskit_np.asarray(__import__("keras").ops.convert_to_numpy(_keraskit_out))
        if _keraskit_out.dtype == object:
            raise TypeError("the function returned something that is not an array of numbers")
        _keraskit_np.save({outputs!r} + f"/{{_keraskit_index}}.npy", _keraskit_out, allow_pickle=False)
        _keraskit_report.append(None)
    except BaseException as _keraskit_error:
        _keraskit_report.append([type(_keraskit_error).__name__, str(_keraskit_error)[:500]])
open({outputs!r} + "/report.json", "w").write(_keraskit_json.dumps(_keraskit_report))
"""


@dataclasses.dataclass
class _RaisedInKernel(Exception):
    kind: str
    text: str

    def __str__(self):
        return self.text


def lesson_of(path):
    """The lesson a notebook is graded as: the two digits its file name starts with.

    Args:
        path: the notebook's path.

    Returns:
        `"02"` for `02_positional_encoding.ipynb`; `None` if the name does not start
        with two digits.

    Example:

    >>> lesson_of("submissions/02_positional_encoding.ipynb"), lesson_of("notes.ipynb")
    ('02', None)
    """
    name = Path(path).name
    return name[:2] if name[:2].isdigit() else None


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


def _read_outputs(folder, count):
    report_path = folder / "report.json"
    if not report_path.exists():
        return None
    report = json.loads(report_path.read_text())
    outputs = []
    for index in range(count):
        if index < len(report) and report[index] is not None:
            kind, text = report[index]
            is_stub = kind == "NotImplementedError"
            error = NotImplementedError(text) if is_stub else _RaisedInKernel(kind, text)
            outputs.append(error)
        else:
            outputs.append(np.load(folder / f"{index}.npy", allow_pickle=False))
    return outputs


def grade_notebook(path, timeout=120, extra_tests=None, backend=None, seed=None, registry=None):
    """Grades one notebook; returns the dict that `--json` writes.

    The notebook is graded on the tasks of its lesson (the two digits its name
    starts with) in `registry`. To grade a batch with hidden tests, load them once
    with `registry = load_extra_tests(folder)` and pass `registry=registry` for
    each notebook; `extra_tests=folder` does the same for one notebook.

    Args:
        path: the learner's notebook (never modified: a copy is executed).
        timeout: seconds allowed for each cell, and for each task's check.
        extra_tests: a folder of hidden tests, added to a copy of `registry`
            (see `load_extra_tests`).
        backend: `KERAS_BACKEND` for the kernel (default: this process's, else jax).
        seed: seed for the drawn inputs (default: fresh randomness every time).
        registry: the `Registry` of tasks (default: a new `default_registry()`).

    Returns:
        `{"notebook", "score", "max_score", "tasks": [{"name", "points", "max_points",
        "passed", "message"}], "errors": [...]}`.
    """
    path = Path(path)
    registry = default_registry() if registry is None else registry
    if extra_tests:
        registry = load_extra_tests(extra_tests, registry)
    lesson = lesson_of(path)
    tasks = registry.tasks_for(lesson) if lesson else []
    report = {
        "notebook": str(path),
        "score": 0,
        "max_score": sum(task.points for task in tasks),
        "tasks": [],
        "errors": [],
    }

    def fail_all(message):
        report["tasks"] = [
            dataclasses.asdict(Result(task.name, 0, task.points, False, message)) for task in tasks
        ]
        return report

    if not tasks:
        report["errors"].append(
            f"No graded tasks for {path.name}: the name must start with a lesson "
            "number that has an exercise (e.g. 02_positional_encoding.ipynb)."
        )
        return report
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # not JSON, not a notebook: the same for the learner
        report["errors"].append(f"not a readable notebook: {type(error).__name__}: {error}")
        return fail_all("the notebook could not be read, so nothing could be graded")

    work = Path(tempfile.mkdtemp(prefix="keraskit-grade-"))
    try:
        return _grade_in_kernel(notebook, path, work, tasks, timeout, backend, seed, report)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _grade_in_kernel(notebook, path, work, tasks, timeout, backend, seed, report):
    env = dict(
        os.environ,
        KERAS_BACKEND=backend or os.environ.get("KERAS_BACKEND", "jax"),
        TF_CPP_MIN_LOG_LEVEL="3",
        MPLBACKEND="Agg",
    )
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(work)}},
    )
    rng = np.random.default_rng(seed)
    results = []
    with client.setup_kernel(env=env):
        for index, cell in enumerate(notebook.cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                report["errors"].append(f"cell {index} ran longer than {timeout:g} s and was stopped")
            except DeadKernelError:
                report["errors"].append(f"the kernel died in cell {index}")
                break
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    message = f"cell {index} raised {output['ename']}: {output['evalue']}"
                    if output["ename"] == "KeyboardInterrupt":  # nbclient interrupts on timeout
                        message = f"cell {index} ran longer than {timeout:g} s and was stopped"
                    report["errors"].append(message[:300])
        for task in tasks:
            results.append(_grade_task(client, task, work, rng, timeout))
    report["tasks"] = [dataclasses.asdict(result) for result in results]
    report["score"] = sum(result.points for result in results)
    return report


def _grade_task(client, task, work, rng, timeout):
    folder = work / task.name
    folder.mkdir()
    cases = task.cases(rng)
    _encode_cases(cases, folder)
    code = CALL_CELL.format(
        inputs=str(folder / "inputs.npz"), spec=str(folder / "spec.json"), outputs=str(folder), name=task.name
    )
    cell = nbformat.v4.new_code_cell(code)
    client.nb.cells.append(cell)  # nbclient records outputs by the cell's index
    try:
        client.execute_cell(cell, len(client.nb.cells) - 1)
    except CellTimeoutError:
        return Result(
            task.name,
            0,
            task.points,
            False,
            f"`{task.name}` did not finish within {timeout:g} s (an endless loop?)",
        )
    except (DeadKernelError, CellExecutionError) as error:
        return Result(task.name, 0, task.points, False, f"could not run `{task.name}`: {error}"[:300])
    outputs = _read_outputs(folder, len(cases))
    if outputs is None:
        return Result(
            task.name,
            0,
            task.points,
            False,
            f"`{task.name}` could not be called (the kernel did not report back)",
        )
    if any(isinstance(output, _RaisedInKernel) and output.kind == "KeyboardInterrupt" for output in outputs):
        return Result(
            task.name,
            0,
            task.points,
            False,
            f"`{task.name}` did not finish within {timeout:g} s (an endless loop?)",
        )
    if isinstance(outputs[0], _RaisedInKernel) and outputs[0].kind == "NameError":
        return Result(
            task.name, 0, task.points, False, f"no function named `{task.name}` is defined in the notebook"
        )
    return task.grade_outputs(cases, outputs)
