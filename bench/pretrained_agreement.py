"""How closely converted checkpoints agree with the framework that wrote them, at full size.

For each checkpoint family keraskit loads, a randomly initialised model of the published
size (ViT-B/16, DeiT-S distilled, ...) is written with `save_pretrained` (or built with
KerasHub), loaded with `vit_from_pretrained`, and both run on the same images. Printed: the
largest absolute difference between their outputs, and the largest output, in float32, on
the backend Keras runs on. (Random weights, not the published ones: nothing is downloaded.
The published checkpoints have these architectures and configs.)

    KERAS_BACKEND=jax python bench/pretrained_agreement.py
"""

import os
import sys
import tempfile

import keras
import numpy as np
import torch
import transformers

sys.path.insert(0, os.path.dirname(__file__))
from _common import caption  # noqa: E402

from keraskit.models import vit_from_pretrained  # noqa: E402

BATCH = 2


def base(**overrides):
    """ViT-B/16 at 224x224 as google/vit-base-patch16-224's config.json has it."""
    config = dict(
        hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072,
        image_size=224, patch_size=16, layer_norm_eps=1e-12, num_labels=1000,
    )  # fmt: skip
    return {**config, **overrides}


def small(**overrides):
    """DeiT-S at 224x224, as facebook/deit-small-distilled-patch16-224."""
    return base(hidden_size=384, num_attention_heads=6, intermediate_size=1536, **overrides)


# family name -> (transformers class, config class, config, image size to load at, output to compare)
FAMILIES = {
    "ViTForImageClassification (ViT-B/16)": (
        transformers.ViTForImageClassification, transformers.ViTConfig, base(), None, "logits"
    ),
    "ViTForImageClassification (ViT-B/16) at 384x384": (
        transformers.ViTForImageClassification, transformers.ViTConfig, base(), 384, "logits"
    ),
    "ViTModel (ViT-B/16), features": (
        transformers.ViTModel, transformers.ViTConfig, base(), None, "features"
    ),
    "DeiTForImageClassificationWithTeacher (DeiT-S)": (
        transformers.DeiTForImageClassificationWithTeacher, transformers.DeiTConfig, small(), None, "logits"
    ),
    "DeiTForImageClassification (DeiT-S)": (
        transformers.DeiTForImageClassification, transformers.DeiTConfig, small(), None, "logits"
    ),
}  # fmt: skip


def agreement(model_class, config_class, config, image_size, output, directory):
    torch.manual_seed(0)
    reference = model_class(config_class(**config)).eval()
    reference.save_pretrained(directory)
    size = image_size or config["image_size"]
    images = np.random.default_rng(0).normal(size=(BATCH, size, size, 3)).astype("float32")
    with torch.no_grad():
        result = reference(
            pixel_values=torch.from_numpy(images.transpose(0, 3, 1, 2)),
            interpolate_pos_encoding=image_size is not None,
        )
    expected = result.last_hidden_state[:, 0] if output == "features" else result.logits
    model = vit_from_pretrained(directory, image_size=image_size, include_top=output != "features")
    ours = model(images)
    if isinstance(ours, (list, tuple)):  # DeiT with teacher: the average of its two heads
        ours = (ours[0] + ours[1]) / 2
    ours = keras.ops.convert_to_numpy(ours)
    expected = expected.numpy()
    return float(np.max(np.abs(ours - expected))), float(np.max(np.abs(expected)))


def keras_hub_agreement():
    import keras_hub

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(224, 224, 3), patch_size=16, num_layers=12, num_heads=12, hidden_dim=768, mlp_dim=3072
    )
    classifier = keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=1000)
    images = np.random.default_rng(0).normal(size=(BATCH, 224, 224, 3)).astype("float32")
    expected = keras.ops.convert_to_numpy(classifier(images))
    ours = keras.ops.convert_to_numpy(vit_from_pretrained(classifier)(images))
    return float(np.max(np.abs(ours - expected))), float(np.max(np.abs(expected)))


def main():
    rows = []
    for name, (model_class, config_class, config, image_size, output) in FAMILIES.items():
        with tempfile.TemporaryDirectory() as directory:
            rows.append((name, *agreement(model_class, config_class, config, image_size, output, directory)))
        print(f"{name}: done", file=sys.stderr)
    rows.append(("KerasHub ViTImageClassifier (ViT-B/16)", *keras_hub_agreement()))
    print(caption(f"Converted checkpoints against their own framework, Keras on {keras.backend.backend()}"))
    print("| checkpoint family | largest difference | largest output |")
    print("| --- | --- | --- |")
    for name, difference, scale in rows:
        print(f"| {name} | {difference:.2e} | {scale:.2f} |")
    print(f"\nlargest difference over all families: {max(row[1] for row in rows):.2e}")


if __name__ == "__main__":
    main()
