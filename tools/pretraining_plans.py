"""The search behind lesson 12's plans: MAE pre-training, then fine-tuning on 1% of the labels.

Lesson 12 says its peak rates, for pre-training and for fine-tuning, were chosen
on the validation split. This is how: each run takes lesson 09's
split (54,000 training / 6,000 validation images, standardised), optionally
pre-trains lesson 09's ViT as a masked autoencoder on the 54,000 training images
without labels, then fine-tunes it (or the same ViT from scratch) on 54 labelled
images per class at each peak rate given, and prints one JSON line per rate
with the validation accuracy every few epochs. The test set is never read.

    python tools/pretraining_plans.py '{"pretrained": false, "fine_rates": [1e-3, 2e-3, 4e-3]}'
    python tools/pretraining_plans.py '{"pre_epochs": 12, "pre_rate": 1.5e-3, "fine_rates": [1e-3, 2e-3]}'

Keys (all optional): pretrained, pre_epochs, pre_rate, mask_ratio, decoder_dim,
labels_per_class, fine_epochs, fine_batch, fine_rates, threads (torch threads), seed.
The backend comes from KERAS_BACKEND (default: torch, the course's on a CPU).
"""

import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keraskit.course.data import load_fashion_mnist  # noqa: E402
from keraskit.models import MaskedAutoencoder, vit  # noqa: E402
from keraskit.training import warmup_cosine  # noqa: E402

DEFAULTS = {
    "pretrained": True,
    "pre_epochs": 12,
    "pre_rate": 6e-3,
    "mask_ratio": 0.75,
    "decoder_dim": 32,
    "labels_per_class": 54,
    "fine_epochs": 48,
    "fine_batch": 64,
    "fine_rates": [5e-4],
    "seed": 0,
}


def make_vit(include_top):
    return vit(image_size=28, patch_size=7, channels=1, num_classes=10 if include_top else None,
               hidden_dim=64, num_layers=4, num_heads=4, intermediate_dim=128, pooling="gap",
               include_top=include_top)  # fmt: skip


def adamw(peak_rate, steps):
    return keras.optimizers.AdamW(warmup_cosine(peak_rate, steps, steps // 10), weight_decay=0.05)


def main(plan):
    plan = {**DEFAULTS, **plan}
    if "threads" in plan and keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(plan["threads"])
    (pixels, labels), _ = load_fashion_mnist()
    order = np.random.default_rng(0).permutation(len(pixels))  # lesson 09's split
    validation, training = order[:6000], order[6000:]
    scaled = pixels[training] / 255.0
    mean, std = scaled.mean(), scaled.std()
    x_train = ((scaled - mean) / std).astype("float32")[..., None]
    x_val = ((pixels[validation] / 255.0 - mean) / std).astype("float32")[..., None]
    y_train, y_val = labels[training], labels[validation]

    keras.utils.set_random_seed(plan["seed"])
    encoder = make_vit(include_top=False)
    pre_seconds = 0.0
    if plan["pretrained"]:
        mae = MaskedAutoencoder(encoder, mask_ratio=plan["mask_ratio"], decoder_dim=plan["decoder_dim"],
                                decoder_layers=1, decoder_heads=2, seed=0)  # fmt: skip
        steps = plan["pre_epochs"] * int(np.ceil(len(x_train) / 256))
        mae.compile(optimizer=adamw(plan["pre_rate"], steps))
        start = time.perf_counter()
        mae.fit(x_train, batch_size=256, epochs=plan["pre_epochs"], verbose=0)
        pre_seconds = time.perf_counter() - start

    per_class = plan["labels_per_class"]
    subset = np.concatenate([np.flatnonzero(y_train == c)[:per_class] for c in range(10)])
    every = max(1, plan["fine_epochs"] // 6)  # 48 epochs: validation after 8, 16, ..., 48
    for rate in plan["fine_rates"]:
        keras.utils.set_random_seed(plan["seed"])
        classifier = make_vit(include_top=True)
        for layer in encoder.layers:
            classifier.get_layer(layer.name).set_weights(layer.get_weights())
        steps = plan["fine_epochs"] * int(np.ceil(len(subset) / plan["fine_batch"]))
        classifier.compile(optimizer=adamw(rate, steps), metrics=["accuracy"],
                           loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        history = classifier.fit(x_train[subset], y_train[subset], batch_size=plan["fine_batch"],
                                 epochs=plan["fine_epochs"], validation_data=(x_val, y_val),
                                 validation_freq=every, verbose=0)  # fmt: skip
        result = {
            "plan": {**plan, "fine_rate": rate},
            "backend": keras.backend.backend(),
            "pre_training_seconds": round(pre_seconds),
            "train_accuracy": round(history.history["accuracy"][-1], 4),
            "validation_accuracy": [round(value, 4) for value in history.history["val_accuracy"]],
        }
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
