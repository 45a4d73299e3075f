"""Which backend Keras imports when nobody chose one that is installed.

Keras reads its backend from `KERAS_BACKEND`, else from `keras.json` (in
`$KERAS_HOME`, else `~/.keras`), else uses TensorFlow. When that backend is not
installed, `import keras` can only fail, so `import keraskit` (and the
`keraskit` command) would fail on an install made with
`pip install "keraskit[jax]"` or `"keraskit[torch]"`. Only in that case,
keraskit points Keras at the first installed of jax, torch and tensorflow; a
choice that can work is never overridden.
"""

import importlib.util
import json
import os
import sys

# The backends keraskit supports, in the order it falls back to them.
FALLBACK_ORDER = ("jax", "torch", "tensorflow")


def _installed(name):
    return isinstance(name, str) and name.isidentifier() and importlib.util.find_spec(name) is not None


def keras_choice():
    """The backend Keras would import: `KERAS_BACKEND`, else keras.json's, else "tensorflow"."""
    if "KERAS_BACKEND" in os.environ:
        return os.environ["KERAS_BACKEND"]
    folder = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(folder, "keras.json")) as file:
            return json.load(file).get("backend", "tensorflow")
    except (OSError, ValueError, AttributeError):  # no file, not JSON, not an object
        return "tensorflow"


def use_an_installed_backend():
    """Sets `KERAS_BACKEND` to an installed backend when Keras's own choice is not installed.

    Does nothing once Keras is imported (its backend is fixed then), when
    `KERAS_BACKEND` is set, or when Keras's choice is installed.

    Returns:
        The backend it set, or `None` when it left the choice to Keras.
    """
    if "keras" in sys.modules or "KERAS_BACKEND" in os.environ or _installed(keras_choice()):
        return None
    for name in FALLBACK_ORDER:
        if _installed(name):
            os.environ["KERAS_BACKEND"] = name
            return name
    return None  # nothing installed: Keras's own error says what is missing
