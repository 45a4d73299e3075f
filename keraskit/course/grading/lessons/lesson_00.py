"""Lesson 00, Keras 3: the tasks of exercises/00_keras3.ipynb.

Example:

>>> [task.name for task in TASKS]
['stable_softmax', 'scaled_residual', 'binary_cross_entropy']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import normal, softmax
from keraskit.course.grading.tasks import Case, Task

LESSON = "00"


def _scaled_residual_reference(x, kernel, bias, alpha):
    return x + alpha * np.tanh(x @ kernel + bias)


def _binary_cross_entropy_reference(probabilities, labels):
    p = np.clip(probabilities.astype("float64"), 1e-7, 1 - 1e-7)
    return np.array(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p)))


def _softmax_cases(rng):
    large = normal(rng, 2, 6) * 300.0  # exp would overflow without the max subtracted
    return [
        Case((normal(rng, 3, 5),), "3 rows of 5 scores"),
        Case((large,), "scores in the hundreds: subtract the row's maximum first"),
        Case((normal(rng, 2, 3, 4),), "a (2, 3, 4) array: softmax over the last axis"),
    ]


def _residual_cases(rng):
    d = int(rng.integers(2, 7))
    return [
        Case(
            (normal(rng, 4, d), normal(rng, d, d), normal(rng, d), float(rng.normal())), f"4 vectors of {d}"
        ),
        Case((normal(rng, 3, 5), normal(rng, 5, 5), normal(rng, 5), 0.0), "alpha = 0: the identity"),
    ]


def _bce_cases(rng):
    labels = (rng.random(20) < 0.5).astype("float32")
    return [
        Case((rng.uniform(0.05, 0.95, 20).astype("float32"), labels), "20 probabilities and labels"),
        Case(
            (np.array([0.0, 1.0, 0.3], "float32"), np.array([0.0, 1.0, 1.0], "float32")),
            "probabilities of exactly 0 and 1: clip to [1e-7, 1 - 1e-7]",
        ),  # fmt: skip
    ]


TASKS = (
    Task(
        LESSON,
        "stable_softmax",
        2,
        cases=_softmax_cases,
        reference=softmax,
        hint="subtract the maximum of each row (axis=-1, keepdims=True) before exp, then divide by the "
        "row's sum: the result is the same, and exp never overflows.",
    ),
    Task(
        LESSON,
        "scaled_residual",
        2,
        cases=_residual_cases,
        reference=_scaled_residual_reference,
        hint="y = x + alpha * tanh(x @ kernel + bias): the lesson's ScaledResidual layer as a formula.",
    ),
    Task(
        LESSON,
        "binary_cross_entropy",
        2,
        cases=_bce_cases,
        reference=_binary_cross_entropy_reference,
        hint="clip p to [1e-7, 1 - 1e-7] (as Keras does), then -mean(y log p + (1 - y) log(1 - p)).",
        rtol=1e-4,
        atol=1e-6,
    ),
)
