"""Lesson 08, patches: the tasks of exercises/08_patches.ipynb.

Example:

>>> [task.name for task in TASKS]
['patchify', 'unpatchify', 'patch_counts']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import normal
from keraskit.course.grading.tasks import Case, Task

LESSON = "08"


def _patchify_reference(images, patch_size):
    b, h, w, c = images.shape
    p = patch_size
    x = images.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


def _unpatchify_reference(patches, image_size, patch_size):
    b = patches.shape[0]
    h, w = image_size
    p = patch_size
    c = patches.shape[-1] // (p * p)
    x = patches.reshape(b, h // p, w // p, p, p, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


def _patch_counts_reference(image_size, patch_size, channels):
    num_patches = (image_size[0] // patch_size) * (image_size[1] // patch_size)
    return np.array([num_patches, patch_size * patch_size * channels])


TASKS = (
    Task(
        LESSON,
        "patchify",
        3,
        cases=lambda rng: [
            Case((normal(rng, 2, 8, 12, 3), 4), "(2, 8, 12, 3) images, 4x4 patches"),
            Case((normal(rng, 1, 6, 6, 1), 2), "grey 6x6, 2x2 patches"),
        ],
        reference=_patchify_reference,
        hint="reshape (B, H, W, C) to (B, H/p, p, W/p, p, C), move the two grid axes first "
        "(B, H/p, W/p, p, p, C), then flatten: patches in reading order, each patch row by row.",
    ),
    Task(
        LESSON,
        "unpatchify",
        2,
        cases=lambda rng: [
            Case((normal(rng, 2, 6, 48), (8, 12), 4), "6 patches of 4x4x3 into 8x12 images"),
            Case((normal(rng, 1, 9, 4), (6, 6), 2), "9 grey 2x2 patches into 6x6"),
        ],
        reference=_unpatchify_reference,
        hint="undo patchify step by step in reverse: reshape to (B, H/p, W/p, p, p, C), swap the middle "
        "axes back to (B, H/p, p, W/p, p, C), reshape to (B, H, W, C).",
    ),
    Task(
        LESSON,
        "patch_counts",
        1,
        cases=lambda rng: [
            Case(((224, 224), 16, 3), "224x224 RGB, 16x16 patches"),
            Case(((28, 28), 7, 1), "28x28 grey, 7x7 patches"),
            Case(((32, 48), 8, 3), "32x48, 8x8 patches"),
            # Drawn when grading, so a table of the fixed cases' answers earns nothing.
            Case(
                ((int(rng.integers(8, 400)), int(rng.integers(8, 400))), int(rng.integers(2, 33)), 3),
                "a random image size and patch size",
            ),
        ],
        reference=_patch_counts_reference,
        hint="return [number of patches, values per patch]: (H/p)(W/p) and p*p*C.",
        exact=True,
    ),
)
