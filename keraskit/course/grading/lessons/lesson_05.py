"""Lesson 05, the Transformer block: the tasks of exercises/05_transformer_block.ipynb.

Example:

>>> [task.name for task in TASKS]
['layer_norm', 'mlp', 'pre_norm_residual']
"""

import math

import numpy as np

from keraskit.course.grading.lessons._helpers import normal
from keraskit.course.grading.tasks import Case, Task

LESSON = "05"


def _layer_norm_reference(x, gamma, beta, epsilon=1e-6):
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def _gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2)))


TASKS = (
    Task(
        LESSON,
        "layer_norm",
        2,
        cases=lambda rng: [
            Case((normal(rng, 2, 3, 8) * 5 + 3, normal(rng, 8), normal(rng, 8)), "(2, 3, 8) tokens"),
            Case(
                (normal(rng, 4, 16), np.ones(16, "float32"), np.zeros(16, "float32")),
                "gamma 1, beta 0: every token gets mean 0 and variance 1",
            ),
        ],
        reference=_layer_norm_reference,
        hint="normalise each token over its features (the last axis): subtract the mean, divide by "
        "sqrt(variance + epsilon) with the biased variance (mean of squares), then * gamma + beta.",
        rtol=1e-3,
        atol=1e-4,
    ),
    Task(
        LESSON,
        "mlp",
        2,
        cases=lambda rng: [
            Case(
                (normal(rng, 2, 3, 4), normal(rng, 4, 8), normal(rng, 8), normal(rng, 8, 4), normal(rng, 4)),
                "width 4, hidden 8",
            )
        ],
        reference=lambda x, w1, b1, w2, b2: _gelu(x @ w1 + b1) @ w2 + b2,
        hint="Dense -> GELU -> Dense on each token: gelu(x @ w1 + b1) @ w2 + b2, with the exact GELU "
        "x * Phi(x) (keras.activations.gelu(..., approximate=False)).",
        rtol=1e-3,
        atol=1e-4,
    ),
    Task(
        LESSON,
        "pre_norm_residual",
        2,
        cases=lambda rng: [
            Case(
                (
                    normal(rng, 2, 3, 6) * 2 + 1,
                    normal(rng, 6),
                    normal(rng, 6),
                    normal(rng, 6, 6),
                    normal(rng, 6),
                ),
                "(2, 3, 6) tokens",
            )
        ],
        reference=lambda x, gamma, beta, w, b: x + _layer_norm_reference(x, gamma, beta) @ w + b,
        hint="pre-norm: normalise first, then the sub-layer (here a linear map, @ w + b), then add the "
        "untouched input: x + sublayer(layer_norm(x)). LayerNorm epsilon 1e-6.",
        rtol=1e-3,
        atol=1e-4,
    ),
)
