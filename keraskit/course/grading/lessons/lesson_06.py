"""Lesson 06, text classification: the tasks of exercises/06_text_classification.ipynb.

Example:

>>> [task.name for task in TASKS]
['masked_mean', 'padding_mask', 'attention_padding_mask']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import normal
from keraskit.course.grading.tasks import Case, Task

LESSON = "06"


def _masked_mean_reference(x, mask):
    weights = mask.astype(x.dtype)[..., None]
    return (x * weights).sum(1) / np.maximum(weights.sum(1), 1.0)


def _masked_mean_cases(rng):
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False
    mask[2, :] = False  # a fully padded row
    return [
        Case((normal(rng, 3, 6, 4), mask), "padding, and one fully padded row (answer: zeros)"),
        Case((normal(rng, 2, 5, 3), np.ones((2, 5), bool)), "no padding: the plain mean"),
    ]


TASKS = (
    Task(
        LESSON,
        "masked_mean",
        2,
        cases=_masked_mean_cases,
        reference=_masked_mean_reference,
        hint="sum the real tokens only (multiply by the mask) and divide by how many there are; divide "
        "by at least 1 so a fully padded row gives 0, not NaN.",
    ),
    Task(
        LESSON,
        "padding_mask",
        1,
        cases=lambda rng: [
            Case(
                (np.where(rng.random((3, 6)) < 0.3, 0, rng.integers(1, 50, (3, 6))),), "ids with 0 as padding"
            )
        ],
        reference=lambda ids: ids != 0,
        hint="True for real tokens, False where the id is 0 (padding).",
        exact=True,
    ),
    Task(
        LESSON,
        "attention_padding_mask",
        2,
        cases=lambda rng: [Case((rng.random((2, 5)) < 0.7,), "2 examples of 5 tokens")],
        reference=lambda mask: mask[:, None, :] & mask[:, :, None],
        hint="(B, T) -> (B, T, T): query i may look at key j only when both are real tokens "
        "(mask[:, None, :] & mask[:, :, None]).",
        exact=True,
    ),
)
