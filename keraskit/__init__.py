"""keraskit: Keras 3 layers for Transformers and Vision Transformers, written to be read.

    from keraskit import layers, models, data
"""

__version__ = "0.1.0"

from keraskit import data, layers, models  # noqa: E402

__all__ = ["data", "layers", "models", "__version__"]
