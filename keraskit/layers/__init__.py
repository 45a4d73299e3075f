"""keraskit.layers: the building blocks of Transformers and Vision Transformers.

Every layer is a plain `keras.layers.Layer` written with `keras.ops` only, so it
runs on JAX, TensorFlow and PyTorch, and saves to `.keras` like Keras's own.
"""

from keraskit.layers.attention import (
    MultiHeadCrossAttention,
    MultiHeadSelfAttention,
    causal_mask,
)
from keraskit.layers.augment import RandomShift
from keraskit.layers.drop_path import DropPath
from keraskit.layers.masking import RandomPatchMasking
from keraskit.layers.patch_encoder import PatchEncoder
from keraskit.layers.patches import PatchEmbedding, Patches, unpatchify
from keraskit.layers.pooling import TokenPooling
from keraskit.layers.position import (
    LearnedPositionEmbedding,
    SinCos2DPositionEncoding,
    SinusoidalPositionEncoding,
    TokenAndPositionEmbedding,
    bicubic_resize_matrix,
    interpolate_positions,
    sincos_2d_encoding,
    sinusoidal_encoding,
)
from keraskit.layers.transformer import TransformerBlock, TransformerDecoderBlock

__all__ = [
    "RandomShift",
    "DropPath",
    "LearnedPositionEmbedding",
    "MultiHeadCrossAttention",
    "MultiHeadSelfAttention",
    "PatchEmbedding",
    "PatchEncoder",
    "Patches",
    "RandomPatchMasking",
    "SinCos2DPositionEncoding",
    "SinusoidalPositionEncoding",
    "TokenAndPositionEmbedding",
    "TokenPooling",
    "TransformerBlock",
    "TransformerDecoderBlock",
    "bicubic_resize_matrix",
    "causal_mask",
    "interpolate_positions",
    "sincos_2d_encoding",
    "sinusoidal_encoding",
    "unpatchify",
]
