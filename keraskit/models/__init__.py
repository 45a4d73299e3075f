"""keraskit.models: whole models built from keraskit layers, and tools to look inside them."""

from keraskit.models.inspection import attention_maps, attention_rollout
from keraskit.models.masked_autoencoder import MAEDecoder, MaskedAutoencoder, masked_reconstruction_loss
from keraskit.models.pretrained import (
    labels_from_pretrained,
    preprocessing_from_pretrained,
    vit_from_pretrained,
)
from keraskit.models.resolution import resize_vit
from keraskit.models.seq2seq import greedy_decode, seq2seq_transformer
from keraskit.models.text import text_classifier
from keraskit.models.vision_transformer import VIT_PRESETS, vit, vit_base, vit_large, vit_small, vit_tiny

__all__ = [
    "MAEDecoder",
    "MaskedAutoencoder",
    "VIT_PRESETS",
    "attention_maps",
    "attention_rollout",
    "greedy_decode",
    "labels_from_pretrained",
    "masked_reconstruction_loss",
    "preprocessing_from_pretrained",
    "resize_vit",
    "seq2seq_transformer",
    "text_classifier",
    "vit",
    "vit_base",
    "vit_from_pretrained",
    "vit_large",
    "vit_small",
    "vit_tiny",
]
