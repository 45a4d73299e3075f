"""Run the course notebooks and keep their stored outputs honest.

    python tools/notebooks.py run [NOTEBOOK ...]     execute at full size, store outputs
    python tools/notebooks.py check [NOTEBOOK ...]   fail if stored outputs are stale
    python tools/notebooks.py time --backend jax [--save DIR] [--smoke] [NOTEBOOK ...]
                                                     execute at full size (--smoke: the tests'
                                                     small run), print the seconds; the course
                                                     files are left as they are (--save: the
                                                     executed copies go to DIR)

A notebook's metadata records a hash of its code cells when `run` stores its
outputs. If a code cell changes afterwards, the hash no longer matches and
`check` (and the tests) say the outputs are stale: rerun `make notebooks`.
Execution uses nbclient in a fresh kernel, like a learner's "Restart & Run all",
started with `keraskit.training.KEEP_FREED_MEMORY_ENV` in its environment, as the
README asks a learner to start Jupyter on Linux (JAX trains faster with it).
A smoke run (KERASKIT_SMOKE=1, what the tests execute) also asks XLA for quick compilation
instead of fast code, `SMOKE_XLA_FLAG`: it checks that every cell runs, and its tiny models
spend most of their time being compiled. Full-size runs, whose outputs are stored, never get it.
"""

import argparse
import hashlib
import importlib.util
import os
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
COURSE = ROOT / "course"
METADATA_KEY = "keraskit"
# XLA (JAX's compiler, and TensorFlow's with jit_compile=True) at LLVM's optimisation level 0:
# it compiles faster and computes the same up to rounding. tests/conftest.py sets it for every
# test process; the harness sets it for every smoke run too, so that `time --smoke` times what the
# tests run (README's Results has the measurements).
SMOKE_XLA_FLAG = "--xla_backend_optimization_level=0"
# A lesson's intro says how long it takes; `run` writes the measured figure here.
RUNTIME = re.compile(r"<!-- runtime -->.*?<!-- /runtime -->", re.DOTALL)


def _keep_freed_memory_env():
    """KEEP_FREED_MEMORY_ENV, read from its module alone: importing keraskit would import Keras here."""
    path = ROOT / "keraskit" / "training" / "memory.py"
    spec = importlib.util.spec_from_file_location("keraskit_memory", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.KEEP_FREED_MEMORY_ENV


def lessons():
    """The course notebooks, in learning order."""
    return sorted(COURSE.glob("[0-9][0-9]_*.ipynb"))


def code_hash(notebook):
    """SHA-256 of the code cells' sources: what the stored outputs were computed from."""
    digest = hashlib.sha256()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            digest.update(cell.source.strip().encode())
            digest.update(b"\0")
    return digest.hexdigest()


def execute(path, backend=None, smoke=False, timeout=600):
    """Execute a notebook in a fresh kernel; returns (executed notebook, seconds).

    `backend` None leaves the choice to the notebook's setup cell, as a learner's
    run does. Raises nbclient's CellExecutionError, naming the cell, if any cell fails.
    """
    notebook = nbformat.read(path, as_version=4)
    env = dict(os.environ, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="3", **_keep_freed_memory_env())
    if backend is None:
        env.pop("KERAS_BACKEND", None)
    else:
        env["KERAS_BACKEND"] = backend
    env.pop("MPLBACKEND", None)  # a non-inline backend would keep plots out of the notebook
    if smoke:
        env["KERASKIT_SMOKE"] = "1"
        env["XLA_FLAGS"] = with_smoke_xla_flag(env.get("XLA_FLAGS", ""))
    else:
        env.pop("KERASKIT_SMOKE", None)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    start = time.perf_counter()
    client.execute(env=env)
    return notebook, time.perf_counter() - start


def with_smoke_xla_flag(flags):
    """An XLA_FLAGS value for a smoke run: `flags` and SMOKE_XLA_FLAG, unless `flags` sets the level."""
    if SMOKE_XLA_FLAG.split("=")[0] in flags:
        return flags  # the caller's choice, or tests/conftest.py's
    return f"{flags} {SMOKE_XLA_FLAG}".strip()


# TensorFlow's C++ runtime logs lines like "I0000 00:00:17954.. 123 port.cc:153] oneDNN ..."
# before its log level can be set (TF_CPP_MIN_LOG_LEVEL does not reach them). They say
# nothing about the lesson, so they are dropped from stored outputs; all else is kept.
ABSL_LINE = re.compile(
    r"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] .*"
    r"|WARNING: All log messages before absl::InitializeLog\(\) is called .*)\n?",
    re.MULTILINE,
)


def drop_runtime_logs(notebook):
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                output["text"] = ABSL_LINE.sub("", output["text"])
                if not output["text"].strip():
                    continue
            kept.append(output)
        cell.outputs = kept


def stale_reason(path):
    """Why a notebook's stored outputs cannot be trusted, or None if they can."""
    notebook = nbformat.read(path, as_version=4)
    recorded = notebook.metadata.get(METADATA_KEY, {}).get("code_hash")
    if recorded is None:
        return "it was never executed by `make notebooks` (no code hash in its metadata)"
    if recorded != code_hash(notebook):
        return "its code cells changed after its outputs were stored (code hash mismatch)"
    unexecuted = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and cell.source.strip() and cell.get("execution_count") is None
    ]
    if unexecuted:
        return f"code cells {unexecuted} have no stored execution"
    return None


def record_runtime(notebook, seconds, backend):
    """Write the measured full-size run time into the lesson's runtime marker."""
    minutes = round(seconds / 60)
    if seconds < 60:
        about = "under a minute"
    else:
        about = f"about {minutes} minute{'s' if minutes > 1 else ''}"
    text = (
        f"<!-- runtime -->{about} on a 2-core CPU (measured: {seconds:.0f} s at full size "
        f"with the {backend} backend, by `make notebooks`)<!-- /runtime -->"
    )
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and RUNTIME.search(cell.source):
            cell.source = RUNTIME.sub(text, cell.source)


# The setup cell of every lesson prints "Keras <version> on <backend>; ...".
BACKEND_LINE = re.compile(r"Keras \S+ on (\w+);")


def backend_used(notebook):
    """The backend a notebook ran on, read from its setup cell's printed line."""
    for cell in notebook.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            found = BACKEND_LINE.search(output.get("text", ""))
            if found:
                return found.group(1)
    raise ValueError("the notebook never printed 'Keras <version> on <backend>;' (its setup cell)")


def run(paths, backend=None):
    for path in paths:
        print(f"executing {path.name} at full size on {backend or 'the backend it picks'} ...", flush=True)
        notebook, seconds = execute(path, backend=backend)
        used = backend_used(notebook) if backend is None else backend
        record_runtime(notebook, seconds, used)
        drop_runtime_logs(notebook)
        notebook.metadata[METADATA_KEY] = {
            "code_hash": code_hash(notebook),
            "backend": used,
            "seconds": round(seconds, 1),
        }
        nbformat.write(notebook, path)
        print(f"  stored outputs of {path.name} ({seconds:.0f} s)", flush=True)


def time_runs(paths, backend=None, save=None, smoke=False):
    """Execute each notebook and print how long it took; its file is left as it was.

    `save`, a folder: write each executed copy there, to read what it printed on that backend.
    `smoke`: time the run the tests make (KERASKIT_SMOKE=1) instead of the full-size one.
    """
    size = "smoke size" if smoke else "full size"
    for path in paths:
        notebook, seconds = execute(path, backend=backend, smoke=smoke)
        used = backend_used(notebook) if backend is None else backend
        print(f"{path.name}: {seconds:.0f} s at {size} on {used}", flush=True)
        if save is not None:
            save.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, save / path.name)


def check(paths):
    problems = [(path, stale_reason(path)) for path in paths]
    problems = [(path, reason) for path, reason in problems if reason]
    for path, reason in problems:
        print(f"{path.name}: stale outputs: {reason}. Run `make notebooks`.")
    return not problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("run", "check", "time"))
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument(
        "--backend",
        default=os.environ.get("KERAS_BACKEND"),
        help="default: $KERAS_BACKEND, else what each notebook's setup cell picks",
    )
    parser.add_argument("--save", type=Path, help="time: write the executed copies to this folder")
    parser.add_argument(
        "--smoke", action="store_true", help="time: the tests' small run (KERASKIT_SMOKE=1, SMOKE_XLA_FLAG)"
    )
    # Intermixed: options may come before the notebooks too (`time --backend jax course/09_...`).
    args = parser.parse_intermixed_args(argv)
    paths = [path.resolve() for path in args.notebooks] or lessons()
    if args.command == "run":
        run(paths, args.backend)
        return 0
    if args.command == "time":
        time_runs(paths, args.backend, args.save, args.smoke)
        return 0
    return 0 if check(paths) else 1


if __name__ == "__main__":
    sys.exit(main())
