"""Running a piece of Python under another Keras backend, for lessons that compare backends.

Keras picks its backend once per process, when it is first imported, so the only
way to ask "what does TensorFlow compute here?" from a notebook running on PyTorch
is a fresh Python process with another `KERAS_BACKEND`.
"""

import importlib.util
import os
import subprocess
import sys

__all__ = ["BACKENDS", "installed_backends", "run_with_backend"]

BACKENDS = ("jax", "tensorflow", "torch")


def installed_backends():
    """The Keras backends whose framework is installed here, in `BACKENDS` order.

    >>> set(installed_backends()) <= set(BACKENDS)
    True
    """
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]


def run_with_backend(backend, script, *args, folder=None):
    """Runs `script` in a fresh Python with `KERAS_BACKEND=backend`; returns what it printed.

    Args:
        backend: `"jax"`, `"tensorflow"` or `"torch"`.
        script: Python source code, run with `python -c`.
        *args: command-line arguments for the script (`sys.argv[1:]`).
        folder: a folder put first on the child's `PYTHONPATH`, so the script can
            import modules written there (e.g. a layer a saved model needs).

    Returns:
        The script's standard output, stripped.

    Raises:
        ValueError: an unknown backend.
        RuntimeError: the script failed; the message ends with its error output.

    Example:

    >>> backend = installed_backends()[0]
    >>> run_with_backend(backend, "import keras; print(keras.backend.backend())") == backend
    True
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}. Received: {backend!r}")
    path = [str(folder)] if folder is not None else []
    path += [entry for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": os.pathsep.join(path)}
    result = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True, text=True)
    if result.returncode != 0:  # show the child's error instead of failing silently
        raise RuntimeError(f"the {backend} process failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip()
