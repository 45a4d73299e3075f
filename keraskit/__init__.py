"""keraskit: Keras 3 layers for Transformers and Vision Transformers, written to be read.

    from keraskit import layers, models, training
"""

__version__ = "0.1.0"

from keraskit import layers, models, training  # noqa: E402

__all__ = ["layers", "models", "training", "__version__"]
