"""The search behind lesson 09's training plan: one plan, its validation accuracy per epoch.

Lesson 09 says its plan (batch, peak rate, standardised pixels, epochs) was chosen
on the validation split. This is how: each run trains the lesson's ViT (or a
baseline) on the same 54,000 / 6,000 split of the Fashion-MNIST training images,
with AdamW, weight decay 0.05 and a warmup-cosine schedule, and prints one JSON
line with the validation accuracy after every epoch. The test set is never read.

    python tools/vit_plans.py '{"epochs": 10, "batch": 256, "lr": 5e-3, "standardise": true}'
    python tools/vit_plans.py '{"model": "cnn", "epochs": 10, "batch": 256, "lr": 5e-3}'

Keys (all optional): model ("vit", "mlp", "cnn"), epochs, batch, lr, standardise,
position ("learned", "sincos2d", "none"), hidden_dim, num_layers, intermediate_dim,
patch_size, spt (shifted patches, `vit(shifted_patches=True)`: the image's copies shifted
by half a patch, so the value must be patch_size // 2, e.g. 3 for 7x7 patches), dropout,
drop_path, weight_decay, conv_stem (the ViT paper's hybrid, below), ema (AdamW's
moving average of the weights), flip, shift (augmentation), label_smoothing, pooling ("gap",
"cls"), distill (DeiT's hard distillation: the CNN baseline is trained first with the same plan
and becomes the teacher of a ViT with a distillation token, `keraskit.training.HardDistillation`;
the seconds include the teacher's), threads (torch threads), seed. The backend comes from
KERAS_BACKEND (default: torch, the course's on a CPU).

Lesson 09's choice of shifted patches, the two runs it quotes (validation after the
last epoch: 0.8905 plain, 0.9012 shifted; 2026-11-30, torch, one thread each):

    python tools/vit_plans.py '{"standardise": true, "threads": 1}'
    python tools/vit_plans.py '{"spt": 3, "standardise": true, "threads": 1}'

Looking for a plan past 90% (2026-12-01, same machine, two runs at a time; each line is the
JSON to pass, then the validation accuracy after the last epoch and the run's seconds; every
plan adds "standardise": true, "threads": 1 to what is shown):

    {"spt": 3, "label_smoothing": 0.1}                                   0.9042  230 s
    {"spt": 3, "flip": true}                                             0.8948  231 s
    {"spt": 3, "hidden_dim": 96, "intermediate_dim": 192,
     "label_smoothing": 0.1}                                             0.9013  362 s
    {"spt": 3, "label_smoothing": 0.1, "epochs": 13, "shift": 1}         0.8963  290 s
    {"patch_size": 4, "spt": 2, "label_smoothing": 0.1, "epochs": 5}     0.8932  326 s
    {"patch_size": 4, "spt": 2, "hidden_dim": 48, "num_layers": 3,
     "intermediate_dim": 96, "label_smoothing": 0.1}                     0.9002  400 s
    {"spt": 3, "pooling": "cls"}                                         0.8995  250 s
    {"spt": 3, "distill": true}  (the CNN teacher: 0.9153)               0.9027  357 s
    {"spt": 3, "label_smoothing": 0.1, "weight_decay": 0.15}             0.9002  218 s
    {"spt": 3, "label_smoothing": 0.1, "drop_path": 0.1}                 0.8973  232 s

The best of them, label smoothing, gained 0.30 points on lesson 09's plan (0.9012); the others
lay within 0.8 points of it, and the larger ones cost up to 1.7 times the time. Four more runs
(2026-12-01, same conditions) asked whether that gain holds and whether more compute helps:

    {"spt": 3, "label_smoothing": 0.1, "seed": 1}                        0.9050  239 s
    {"spt": 3, "label_smoothing": 0.1, "ema": true}                      0.9043  247 s
    {"spt": 3, "label_smoothing": 0.1, "epochs": 20}                     0.9023  481 s
    {"patch_size": 4, "spt": 2, "label_smoothing": 0.1, "epochs": 10}    0.9002  726 s

With seed 1, label smoothing scored 0.9050, 0.40 points above the plan's own seed-1 run (0.9010,
measured later, below): twice about the same small gain; a moving average
of the weights adds nothing (the cosine schedule already ends at a rate of zero), and twice
the epochs or three times the tokens per image do no better: after 20 epochs the model got
98.31% of its training images right and 90.23% of the validation images.

The ViT paper's hybrid (Dosovitskiy et al. 2021, section 3.1): the patches are taken from a CNN's
feature map instead of the image. `vit(conv_stem=(16, 64, 64))`: three 3x3 convolutions with
stride 2 (ReLU, "same" padding) turn the 28x28 image into a 4x4 map, and the ViT reads its 16
positions as 1x1 patches: the same 16 tokens as 7x7 patches, each built by convolutions from a
window around its place. Same conditions as above (2026-12-01, two runs at a time, "standardise":
true, "threads": 1 added; the first pair ran beside package installs, so its seconds are high):

    {"conv_stem": [16, 64, 64], "num_layers": 2}                         0.9098  271 s
    {"conv_stem": [16, 64, 64], "num_layers": 2, "seed": 1}              0.9155  238 s
    {"spt": 3, "seed": 1}                                                0.9010  322 s
    {"conv_stem": [32, 64, 64]}                                          0.9157  377 s

Paired by seed with lesson 09's previous plan ({"spt": 3}: 0.9012 with seed 0, 0.9010 with seed
1), the two-block hybrid came out 0.86 and 1.45 points ahead, 1.16 on average, with 119,274
parameters against 151,434 and in less time. Lesson 09 adopted it, with 16 filters and 2 blocks
(chosen to keep the lesson within 5 minutes, before the seed-1 runs), after the lesson's
previous test score had been read; the lesson says so. Earlier the same day this tool built the
convolutions as a separate model in front of the ViT, with an optional 2x2 last kernel:
{"stem": 32} (the same model as conv_stem [32, 64, 64]) 0.9157 in 354 s, with label smoothing
0.9145, 16 filters and a 2x2 last kernel 0.9143 (305 s), and that with 2 blocks 0.9142 (205 s).

Lesson 09's section 8 compares the position embeddings on that hybrid and the tokens, with the full
plan and two seeds each (2026-12-02, same conditions, after the lesson's test score had been read;
no choice followed):

    {"conv_stem": [16, 64, 64], "num_layers": 2, "position": "none"}                0.9148  248 s
    {"conv_stem": [16, 64, 64], "num_layers": 2, "position": "none", "seed": 1}     0.9153  246 s
    {"conv_stem": [16, 64, 64], "num_layers": 2, "position": "sincos2d"}            0.9162  251 s
    {"conv_stem": [16, 64, 64], "num_layers": 2, "position": "sincos2d", "seed": 1} 0.9208  249 s
    {"seed": 1}  (plain 7x7 patches)                                                0.8968  274 s

With learned positions (0.9098 and 0.9155, above) the hybrid does no better than without any
(perhaps because the convolutions' zero padding tells border tokens apart; not tested), and 2D
sin-cos came out ahead of learned with both seeds, by 0.64 and 0.53 points: under the lesson's
1.03-point rule.
"""

import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keraskit.course.data import load_fashion_mnist  # noqa: E402
from keraskit.layers import RandomShift  # noqa: E402
from keraskit.models import vit  # noqa: E402
from keraskit.training import HardDistillation, warmup_cosine  # noqa: E402


def build(plan):
    layers = keras.layers
    if plan["model"] == "mlp":
        body = [layers.Flatten(), layers.Dense(256, activation="relu"), layers.Dense(256, activation="relu")]
        core = keras.Sequential([keras.Input((28, 28, 1)), *body, layers.Dense(10)])
    elif plan["model"] == "cnn":
        body = [
            layers.Conv2D(32, 3, strides=2, activation="relu"),
            layers.Conv2D(64, 3, strides=2, activation="relu"),
        ]
        core = keras.Sequential([keras.Input((28, 28, 1)), *body, layers.Flatten(), layers.Dense(10)])
    else:  # with a conv_stem, 1x1 patches of its 4x4 feature map: the same 16 tokens as 7x7 patches
        stem = tuple(plan["conv_stem"]) if plan.get("conv_stem") else None
        core = vit(image_size=28, num_classes=10, patch_size=plan.get("patch_size", 1 if stem else 7),
                   conv_stem=stem,
                   hidden_dim=plan.get("hidden_dim", 64), num_layers=plan.get("num_layers", 4), num_heads=4,
                   intermediate_dim=plan.get("intermediate_dim", 128), pooling=plan.get("pooling", "gap"),
                   channels=1, shifted_patches=bool(plan.get("spt")), dropout=plan.get("dropout", 0.0),
                   distillation=bool(plan.get("distill")),
                   drop_path=plan.get("drop_path", 0.0),
                   position=plan.get("position", "learned"))  # fmt: skip
    if not (plan.get("flip") or plan.get("shift")):
        return core
    images = keras.Input((28, 28, 1))
    x = keras.layers.RandomFlip("horizontal", seed=1)(images) if plan.get("flip") else images
    x = RandomShift(plan["shift"], seed=2)(x) if plan.get("shift") else x
    return keras.Model(images, core(x))


def main(plan):
    plan = {"model": "vit", "epochs": 10, "batch": 256, "lr": 5e-3, "seed": 0, **plan}
    if plan.get("spt") and plan["spt"] != plan.get("patch_size", 7) // 2:
        raise SystemExit(
            f"spt must be half the patch size, {plan.get('patch_size', 7) // 2} (what Patches(shifted=True) "
            f"shifts by). Received: spt={plan['spt']}"
        )
    if "threads" in plan and keras.backend.backend() == "torch":
        import torch

        torch.set_num_threads(plan["threads"])
    (pixels, labels), _ = load_fashion_mnist()
    order = np.random.default_rng(0).permutation(len(pixels))  # lesson 09's split
    validation, training = order[:6000], order[6000:]
    images = (pixels / 255.0).astype("float32")[..., None]
    if plan.get("standardise"):  # with the training images' statistics
        images = (images - images[training].mean()) / images[training].std()
    steps = plan["epochs"] * int(np.ceil(len(training) / plan["batch"]))

    def optimizer():
        return keras.optimizers.AdamW(
            warmup_cosine(plan["lr"], steps, steps // 10),
            weight_decay=plan.get("weight_decay", 0.05),
            use_ema=plan.get("ema", False),
        )

    start = time.perf_counter()
    if plan.get("distill"):  # DeiT: a CNN trained with the same plan first, then the ViT learns from it too
        if any(plan.get(key) for key in ("label_smoothing", "flip", "shift")) or plan["model"] != "vit":
            raise SystemExit(
                "distill trains a ViT student with DeiT's own loss on unaugmented images: model vit, "
                f"no label_smoothing, flip or shift. Received: {plan}"
            )
        keras.utils.set_random_seed(plan["seed"])
        teacher = build({**plan, "model": "cnn"})
        teacher.compile(optimizer=optimizer(), metrics=["accuracy"],
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))  # fmt: skip
        teacher.fit(
            images[training], labels[training], batch_size=plan["batch"], epochs=plan["epochs"], verbose=0
        )
        teacher_accuracy = teacher.evaluate(images[validation], labels[validation], verbose=0)[1]
        keras.utils.set_random_seed(plan["seed"])
        model = HardDistillation(build({**plan, "pooling": "cls"}), teacher)  # DeiT's two tokens need cls
        model.compile(optimizer=optimizer(), metrics=["accuracy"])
        targets = labels  # class indices, as HardDistillation's loss takes them
    else:
        keras.utils.set_random_seed(plan["seed"])
        model = build(plan)
        smoothing = plan.get("label_smoothing", 0.0)
        model.compile(
            optimizer=optimizer(),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=smoothing),
            metrics=["accuracy"],
        )
        targets = keras.utils.to_categorical(labels, 10)  # one-hot, for label smoothing
    history = model.fit(images[training], targets[training], batch_size=plan["batch"], epochs=plan["epochs"],
                        validation_data=(images[validation], targets[validation]), verbose=0)  # fmt: skip
    after_fit = model.evaluate(images[validation], targets[validation], verbose=0)[1]
    result = {
        "plan": plan,
        "backend": keras.backend.backend(),
        "seconds": round(time.perf_counter() - start),
        "parameters": model.count_params(),
        "train_accuracy": [round(a, 4) for a in history.history["accuracy"]],
        "validation_accuracy": [round(a, 4) for a in history.history["val_accuracy"]],
        # after fit: with "ema", the averaged weights have replaced the trained ones
        "validation_after_fit": round(after_fit, 4),
    }
    if plan.get("distill"):
        result["teacher_validation"] = round(teacher_accuracy, 4)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
