"""keraskit: Keras 3 layers for Transformers and Vision Transformers, written to be read.

The library is `keraskit.layers`, `keraskit.models`, `keraskit.training` and
`keraskit.validation`; the course's tooling is `keraskit.course`.

Example:

>>> from keraskit import layers, models
>>> model = models.vit(image_size=16, patch_size=4, num_classes=3, hidden_dim=16, num_layers=1,
...                    num_heads=2, intermediate_dim=32)
>>> isinstance(model.get_layer("block_0"), layers.TransformerBlock)
True
"""

__version__ = "0.2.0"

# Before Keras is imported: if its backend (TensorFlow by default) is not installed, use one
# that is, so that `pip install "keraskit[jax]"` and `keraskit --help` work unconfigured.
from keraskit import _backend  # noqa: E402

_backend.use_an_installed_backend()

from keraskit import layers, models, training  # noqa: E402

__all__ = ["layers", "models", "training", "__version__"]
