"""keraskit: Keras 3 layers for Transformers and Vision Transformers, written to be read.

from keraskit import layers, models, training
"""

__version__ = "0.2.0"

# Before Keras is imported: if its backend (TensorFlow by default) is not installed, use one
# that is, so that `pip install "keraskit[jax]"` and `keraskit --help` work unconfigured.
from keraskit import _backend  # noqa: E402

_backend.use_an_installed_backend()

from keraskit import layers, models, training  # noqa: E402

__all__ = ["layers", "models", "training", "__version__"]
