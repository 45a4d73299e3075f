"""keraskit.models: whole models built from keraskit layers, and tools to look inside them."""

from keraskit.models.attention_maps import attention_maps, attention_rollout
from keraskit.models.vit import VIT_PRESETS, vit, vit_base, vit_large, vit_small, vit_tiny

__all__ = [
    "VIT_PRESETS",
    "attention_maps",
    "attention_rollout",
    "vit",
    "vit_base",
    "vit_large",
    "vit_small",
    "vit_tiny",
]
