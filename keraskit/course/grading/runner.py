"""Runs a learner's notebook and calls its functions on the grader's inputs: the sandboxed half.

`keraskit grade` starts this module inside the sandbox (see `sandbox.py`), in a
scratch folder that holds `job.json`, `notebook.ipynb` and, for each task,
`<task>/inputs.npz` and `<task>/spec.json`. It executes the notebook's code cells
in a fresh kernel, then one call cell per task; the kernel saves each result as
`<task>/<case>.npy` (never a pickle) and `<task>/report.json`. This module knows
no reference and grades nothing: the grader reads those files only after the
sandbox is gone. It imports nothing from keraskit, so it runs where the
grading package is hidden.

Time is charged honestly. A cell or a task's cell (all its cases together) gets
`timeout` seconds; then the kernel is interrupted, and if it ignores the
interrupt (a loop that catches KeyboardInterrupt) it is killed, restarted, and
the notebook re-run without the cell that hung, so the other tasks are still
graded. The grader enforces the notebook's total time by killing the sandbox.

Example (what the grader runs inside the sandbox):

    python -m keraskit.course.grading.runner /grading
"""

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

# Seconds a kernel gets to honour an interrupt before it is killed.
INTERRUPT_GRACE = 3
# Characters of output kept from the whole notebook: the rest is dropped as it arrives,
# so printing gigabytes costs the learner's own time, not the grader's memory.
OUTPUT_BUDGET = 1_000_000

# Runs inside the learner's kernel, once per task. Names start with "_keraskit_" so they
# do not clash with the learner's; modules are imported under fresh names. It judges
# nothing: it saves what the function returned, or says what it returned instead of an
# array, and stops at the first KeyboardInterrupt (the task's time is up).
CALL_CELL = """
_keraskit_json, _keraskit_np = __import__("json"), __import__("numpy")
_keraskit_inputs = _keraskit_np.load({inputs!r}, allow_pickle=False)
_keraskit_spec = _keraskit_json.loads(open({spec!r}).read())
_keraskit_function = globals().get({name!r})
_keraskit_report = []
def _keraskit_write_report():
    with open({outputs!r} + "/report.json", "w") as _keraskit_file:
        _keraskit_file.write(_keraskit_json.dumps(_keraskit_report))
for _keraskit_index, _keraskit_case in enumerate(_keraskit_spec):
    _keraskit_args = [_keraskit_inputs[key] if kind == "array" else value
                      for kind, key, value in _keraskit_case["args"]]
    _keraskit_kwargs = {{key: _keraskit_inputs[array] for key, array in _keraskit_case["kwargs"].items()}}
    try:
        if _keraskit_function is None:
            raise NameError("no function named {name} is defined")
        _keraskit_out = _keraskit_function(*_keraskit_args, **_keraskit_kwargs)
    except KeyboardInterrupt:
        _keraskit_report.append(["interrupted"])
        _keraskit_write_report()
        break
    except BaseException as _keraskit_error:
        _keraskit_report.append(["raised", type(_keraskit_error).__name__, str(_keraskit_error)[:500]])
        _keraskit_write_report()
        continue
    try:
        if _keraskit_out is None:
            raise TypeError("None")
        try:  # NumPy results, and most backend tensors, convert without importing Keras
            _keraskit_array = _keraskit_np.asarray(_keraskit_out)
        except Exception:
            _keraskit_array = _keraskit_np.asarray(__import__("keras").ops.convert_to_numpy(_keraskit_out))
        if _keraskit_array.dtype.hasobject:
            raise TypeError(f"{{type(_keraskit_out).__name__}} of Python objects")
        _keraskit_np.save({outputs!r} + f"/{{_keraskit_index}}.npy", _keraskit_array, allow_pickle=False)
        _keraskit_report.append(None)
    except BaseException as _keraskit_error:
        _keraskit_report.append(["returned", type(_keraskit_out).__name__, str(_keraskit_error)[:200]])
    _keraskit_write_report()
"""


class _BoundedClient(NotebookClient):
    """A NotebookClient that keeps at most OUTPUT_BUDGET characters of output in all."""

    kept, dropped = 0, False

    def output(self, outs, msg, display_id, cell_index):
        size = len(json.dumps(msg.get("content", {})))
        if msg["msg_type"] != "error" and self.kept + size > OUTPUT_BUDGET:
            self.dropped = True  # the notes say that output was cut
            return None
        self.kept += size
        return super().output(outs, msg, display_id, cell_index)


class _Watchdog:
    """Interrupts the kernel after `timeout` seconds, and kills it `INTERRUPT_GRACE` later."""

    def __init__(self, client, timeout):
        self.client, self.interrupted, self.killed = client, False, False
        self.timers = [
            threading.Timer(timeout, self._signal, (signal.SIGINT,)),
            threading.Timer(timeout + INTERRUPT_GRACE, self._signal, (signal.SIGKILL,)),
        ]

    def _signal(self, number):
        process = getattr(self.client.km.provisioner, "process", None)
        if process is None:
            return
        self.interrupted = True
        self.killed = self.killed or number == signal.SIGKILL
        try:
            os.kill(process.pid, number)
        except ProcessLookupError:
            pass

    def __enter__(self):
        for timer in self.timers:
            timer.start()
        return self

    def __exit__(self, *exc):
        for timer in self.timers:
            timer.cancel()


def _execute(client, cell, index, timeout):
    """Runs one cell: "ok", "interrupted" (stopped in time), "killed" or "dead" (the kernel is gone)."""
    with _Watchdog(client, timeout) as watchdog:
        try:
            client.execute_cell(cell, index)
        except Exception:  # DeadKernelError, or any error from talking to a kernel that is gone
            return "killed" if watchdog.killed else "dead"
    if watchdog.killed:
        return "killed"
    return "interrupted" if watchdog.interrupted else "ok"


def _call_cell(folder, name):
    return CALL_CELL.format(
        inputs=str(folder / "inputs.npz"), spec=str(folder / "spec.json"), outputs=str(folder), name=name
    )


def run(work):
    """Executes `work/notebook.ipynb`, then each task of `work/job.json`; writes `work/status.json`."""
    work = Path(work)
    job = json.loads((work / "job.json").read_text())
    timeout, tasks = job["timeout"], job["tasks"]
    notebook = nbformat.read(work / "notebook.ipynb", as_version=4)
    code = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    status = {"notes": [], "tasks": {}}
    noted, skipped, pending = set(), set(), list(tasks)

    def save():
        (work / "status.json").write_text(json.dumps(status))

    def note(key, text):
        if key not in noted:  # a cell re-run after a restart is reported once
            noted.add(key)
            status["notes"].append(text[:300])
            save()

    for _attempt in range(len(code) + len(tasks) + 1):  # each restart skips a cell or a task for good
        copy = nbformat.from_dict(json.loads(json.dumps(notebook)))  # a fresh copy each run
        client = _BoundedClient(
            copy, timeout=None, kernel_name="python3", allow_errors=True, startup_timeout=120
        )
        restart = False
        with client.setup_kernel(cwd=str(work)):
            # NumPy loaded before the clock starts: the call cells need it, and a busy machine
            # should not charge its import to the learner's first cell.
            warm_up = nbformat.v4.new_code_cell("import numpy")
            client.nb.cells.append(warm_up)
            _execute(client, warm_up, len(client.nb.cells) - 1, max(timeout, 60))
            for index in code:
                if index in skipped:
                    continue
                cell = copy.cells[index]
                outcome = _execute(client, cell, index, timeout)
                if outcome in ("killed", "dead"):
                    skipped.add(index)
                    what = (
                        f"ran longer than {timeout:g} s and ignored the interrupt, so it was killed"
                        if outcome == "killed"
                        else "stopped the kernel (it exited, crashed or ran out of memory)"
                    )
                    note(("cell", index), f"cell {index} {what}; the notebook was run again without it")
                    restart = True
                    break
                if outcome == "interrupted":
                    note(("cell", index), f"cell {index} ran longer than {timeout:g} s and was stopped")
                for output in cell.get("outputs", []):
                    if output.get("output_type") == "error" and output.get("ename") != "KeyboardInterrupt":
                        note(("error", index), f"cell {index} raised {output['ename']}: {output['evalue']}")
            if client.dropped:
                note(
                    "output", f"the notebook printed more than {OUTPUT_BUDGET:,} characters; the rest was cut"
                )
            while pending and not restart:
                name = pending.pop(0)
                cell = nbformat.v4.new_code_cell(_call_cell(work / name, name))
                client.nb.cells.append(cell)  # nbclient records outputs by the cell's index
                started = time.monotonic()
                outcome = _execute(client, cell, len(client.nb.cells) - 1, timeout)
                status["tasks"][name] = {"outcome": outcome, "seconds": round(time.monotonic() - started, 2)}
                save()
                restart = outcome in ("killed", "dead")
        if not restart:
            break
    save()


if __name__ == "__main__":
    run(sys.argv[1])
