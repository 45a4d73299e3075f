"""Lesson 12, pre-training: the tasks of exercises/12_pretraining.ipynb.

Example:

>>> [task.name for task in TASKS]
['keep_indices', 'visible_tokens', 'masked_reconstruction_loss', 'resize_positions']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import normal
from keraskit.course.grading.tasks import Case, Task

LESSON = "12"


def _keep_indices_reference(noise, mask_ratio):
    count = max(1, int(noise.shape[1] * (1.0 - mask_ratio)))
    return np.sort(np.argsort(noise, axis=1)[:, :count], axis=1)


def _visible_tokens_reference(tokens, kept):
    return np.take_along_axis(tokens, kept[:, :, None], axis=1)


def _masked_loss_reference(patches, predictions, mask):
    patches, predictions = patches.astype("float64"), predictions.astype("float64")
    targets = (patches - patches.mean(-1, keepdims=True)) / np.sqrt(patches.var(-1, keepdims=True) + 1e-6)
    per_patch = ((predictions - targets) ** 2).mean(-1)
    return np.array((per_patch * mask).sum() / mask.sum())


def linear_resize_matrix(in_size, out_size):
    """The `(out_size, in_size)` matrix of linear interpolation with half-pixel centres.

    Output position i samples the input at x = (i + 0.5) * in_size / out_size - 0.5,
    clamped to [0, in_size - 1], and mixes its two neighbours. It is what
    `jax.image.resize(..., "linear")` and PyTorch's `interpolate(mode="bilinear",
    align_corners=False)` compute when enlarging.

    >>> linear_resize_matrix(2, 4).round(2).tolist()
    [[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]]
    """
    x = np.clip((np.arange(out_size) + 0.5) * in_size / out_size - 0.5, 0, in_size - 1)
    left = np.floor(x).astype(int)
    right = np.minimum(left + 1, in_size - 1)
    weight = x - left
    matrix = np.zeros((out_size, in_size))
    matrix[np.arange(out_size), left] += 1 - weight
    matrix[np.arange(out_size), right] += weight
    return matrix


def _resize_positions_reference(positions, grid_size, new_grid_size):
    rows, columns = grid_size
    grid = positions.reshape(rows, columns, -1)
    grid = np.einsum("ir,rcd->icd", linear_resize_matrix(rows, new_grid_size[0]), grid)
    grid = np.einsum("jc,icd->ijd", linear_resize_matrix(columns, new_grid_size[1]), grid)
    return grid.reshape(new_grid_size[0] * new_grid_size[1], -1)


def _noise_cases(rng):
    n = int(rng.integers(6, 30))
    return [
        Case((rng.random((3, 16)), 0.75), "3 images of 16 patches, 75% hidden"),
        Case((rng.random((2, n)), float(rng.uniform(0.3, 0.9))), f"{n} patches, a random ratio"),
        Case((rng.random((2, 4)), 0.9), "so many hidden that int() gives 0: keep one"),
    ]


def _visible_cases(rng):
    count, length = int(rng.integers(2, 6)), int(rng.integers(8, 20))
    kept = np.sort(np.stack([rng.permutation(length)[:count] for _ in range(3)]), axis=1)
    return [
        Case((normal(rng, 3, length, 5), kept), f"3 images, {count} of {length} tokens kept"),
        Case((normal(rng, 2, 6, 4), np.array([[5, 0, 3], [1, 1, 2]])), "indices in any order, one twice"),
    ]


def _loss_cases(rng):
    mask = (rng.random((3, 9)) < 0.7).astype("float32")
    mask[:, 0] = 1.0  # at least one hidden patch per image
    scaled = normal(rng, 3, 9, 12) * 4 + 2
    return [
        Case((scaled, normal(rng, 3, 9, 12), mask), "3 images of 9 patches, a random mask"),
        Case((normal(rng, 1, 4, 8), normal(rng, 1, 4, 8), np.array([[0, 1, 0, 0]], "float32")), "one hidden"),
    ]


def _resize_cases(rng):
    rows, columns = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    new = (rows + int(rng.integers(1, 4)), columns + int(rng.integers(1, 4)))
    return [
        Case((normal(rng, 16, 8), (4, 4), (8, 8)), "4x4 grid to 8x8, width 8"),
        Case(
            (normal(rng, rows * columns, 6), (rows, columns), new),
            f"{rows}x{columns} grid to {new[0]}x{new[1]}",
        ),
        Case((normal(rng, 6, 4), (2, 3), (2, 3)), "the same grid: nothing changes"),
    ]


TASKS = (
    Task(
        LESSON,
        "keep_indices",
        2,
        cases=_noise_cases,
        reference=_keep_indices_reference,
        hint="keep K = max(1, int(N * (1 - mask_ratio))) patches per image: the K with the smallest "
        "noise (argsort along axis 1, first K), then sorted ascending.",
        exact=True,
    ),
    Task(
        LESSON,
        "visible_tokens",
        1,
        cases=_visible_cases,
        reference=_visible_tokens_reference,
        hint="for each image b, tokens[b, kept[b]]: np.take_along_axis(tokens, kept[:, :, None], axis=1).",
    ),
    Task(
        LESSON,
        "masked_reconstruction_loss",
        2,
        cases=_loss_cases,
        reference=_masked_loss_reference,
        hint="standardise each target patch by its own mean and variance (+1e-6 inside the square root), "
        "take the mean squared error per patch, then average over the hidden patches only (mask == 1).",
        rtol=1e-4,
        atol=1e-6,
    ),
    Task(
        LESSON,
        "resize_positions",
        2,
        cases=_resize_cases,
        reference=_resize_positions_reference,
        hint="reshape to (rows, columns, D); resize the rows, then the columns, each with linear "
        "interpolation at half-pixel centres x = (i + 0.5) * old / new - 0.5, clamped to the edges; "
        "reshape back to (new_rows * new_columns, D).",
    ),
)
