"""Optional dependencies, and the error that names the keraskit extra to install.

The library needs only Keras and NumPy. A few features need more (reading Hugging Face
checkpoints needs safetensors; the course tooling needs matplotlib and nbclient); they import it
through `require`, so a missing package says which `pip install "keraskit[extra]"` brings it.
"""

import importlib

__all__ = ["require"]


def require(module, extra, purpose):
    """Imports `module`, or raises an ImportError that says which keraskit extra provides it.

    Args:
        module: the module to import, e.g. `"matplotlib.pyplot"`.
        extra: the keraskit extra that installs it, e.g. `"course"`.
        purpose: what needs it, in a few words, e.g. `"keraskit.course.viz draws figures"`.

    Returns:
        The imported module.

    Example:

    >>> require("json", "course", "this example").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        raise ImportError(
            f"{purpose} with {top}, which is not installed ({error}). "
            f'Install it with: pip install "keraskit[{extra}]"',
            name=top,
        ) from error
