"""keraskit.training: the recipe for training a ViT fast, and the pieces it is made of."""

from keraskit.training.devices import data_parallel
from keraskit.training.distillation import HardDistillation
from keraskit.training.flops import (
    PEAK_BF16_FLOPS,
    accelerator_capability,
    accelerator_name,
    peak_flops,
    transformer_block_macs,
    vit_flops,
)
from keraskit.training.memory import KEEP_FREED_MEMORY_ENV, keep_freed_memory
from keraskit.training.optimizers import adamw_optimizer, decayed_weights
from keraskit.training.parallel import check_model_parallel, model_parallel, vit_layout_map
from keraskit.training.precision import auto_precision, precision_scope, resolve_precision
from keraskit.training.recipe import (
    TrainingRun,
    image_augmentation,
    small_vit_config,
    train_vit,
    with_augmentation,
)
from keraskit.training.schedules import WarmupCosine, warmup_cosine
from keraskit.training.throughput import ThroughputMonitor

__all__ = [
    "KEEP_FREED_MEMORY_ENV",
    "PEAK_BF16_FLOPS",
    "HardDistillation",
    "ThroughputMonitor",
    "TrainingRun",
    "WarmupCosine",
    "accelerator_capability",
    "accelerator_name",
    "adamw_optimizer",
    "auto_precision",
    "check_model_parallel",
    "data_parallel",
    "decayed_weights",
    "image_augmentation",
    "keep_freed_memory",
    "model_parallel",
    "peak_flops",
    "precision_scope",
    "resolve_precision",
    "small_vit_config",
    "train_vit",
    "transformer_block_macs",
    "vit_layout_map",
    "vit_flops",
    "warmup_cosine",
    "with_augmentation",
]
