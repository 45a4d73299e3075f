"""Lesson 11, training a ViT on a GPU: the tasks of exercises/11_gpu_training.ipynb.

Example:

>>> [task.name for task in TASKS]
['warmup_cosine', 'mfu', 'vit_training_flops']
"""

import numpy as np

from keraskit.course.grading.tasks import Case, Task

LESSON = "11"


def _warmup_cosine_reference(step, peak, total, warmup):
    step = np.asarray(step, dtype="float64")
    progress = np.clip((step - warmup) / (total - warmup), 0.0, 1.0)
    return np.where(step < warmup, peak * step / warmup, peak * 0.5 * (1 + np.cos(np.pi * progress)))


def _training_flops_reference(tokens, hidden_dim, num_layers, intermediate_dim):
    T, D, M = tokens, hidden_dim, intermediate_dim
    per_block = 4 * T * D * D + 2 * T * T * D + 2 * T * D * M
    return np.array(3 * 2 * num_layers * per_block, dtype="float64")


TASKS = (
    Task(
        LESSON,
        "warmup_cosine",
        3,
        cases=lambda rng: [
            Case((np.arange(0, 101), 1e-3, 100, 10), "steps 0..100, peak 1e-3, warmup 10"),
            Case(
                (rng.integers(0, 5000, 20), 3e-4, 5000, int(rng.integers(1, 500))),
                "random steps, random warmup",
            ),
        ],
        reference=_warmup_cosine_reference,
        hint="linear from 0 to peak over the warmup steps (peak * step / warmup), then "
        "peak * (1 + cos(pi * t)) / 2 with t = (step - warmup) / (total - warmup).",
        rtol=1e-4,
        atol=1e-9,
    ),
    Task(
        LESSON,
        "mfu",
        1,
        cases=lambda rng: [
            Case((3000.0, 52.7e9, 989e12), "ViT-B/16 at 3,000 images/s on an H100"),
            Case((float(rng.uniform(10, 1e4)), float(rng.uniform(1e8, 1e11)), 312e12), "random figures"),
        ],
        reference=lambda images_per_second, flops_per_image, peak: images_per_second * flops_per_image / peak,
        hint="model FLOPs utilization = images/s x training FLOPs per image / the device's peak FLOP/s.",
        rtol=1e-6,
        atol=0,
    ),
    Task(
        LESSON,
        "vit_training_flops",
        2,
        cases=lambda rng: [
            Case((197, 768, 12, 3072), "ViT-B/16's blocks"),
            Case((17, 64, 4, 128), "a small ViT"),
            # Drawn when grading, so a table of the fixed cases' answers earns nothing.
            Case(tuple(int(n) for n in rng.integers([2, 8, 1, 8], [600, 1024, 25, 4096])), "a random ViT"),
        ],
        reference=_training_flops_reference,
        hint="multiply-adds per block: 4 T D^2 (q, k, v, output projections) + 2 T^2 D (scores and "
        "weighted sum) + 2 T D M (MLP); x2 FLOPs per multiply-add; x3 for training; x num_layers.",
        rtol=1e-9,
        atol=0,
    ),
)
