"""Lesson 03, attention: the tasks of exercises/03_attention.ipynb.

Example:

>>> [task.name for task in TASKS]
['scaled_dot_product_attention', 'causal_mask', 'attention_weights']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import normal, softmax
from keraskit.course.grading.tasks import Case, Task

LESSON = "03"


def _attention_reference(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
        scores = np.where(mask.any(-1, keepdims=True), scores, 0.0)  # fully masked: uniform
    return softmax(scores) @ v


def _attention_cases(rng):
    b, tq, tk, d = 2, 4, 5, 8
    q, k, v = normal(rng, b, tq, d), normal(rng, b, tk, d), normal(rng, b, tk, 6)
    padding = np.ones((b, tq, tk), bool)
    padding[0, :, 3:] = False
    fully = padding.copy()
    fully[1, 2, :] = False
    # The causal case uses its own queries and keys (not q = k), so a transposed mask (each
    # query seeing the future instead of the past) or an ignored one changes every row but the last.
    causal = np.tril(np.ones((tq, tq), bool))[None].repeat(b, 0)
    q2, k2 = normal(rng, b, tq, d), normal(rng, b, tq, d)
    return [
        Case((q, k, v), "no mask"),
        Case((q, k, v), "padding mask (last 2 keys of example 0 hidden)", {"mask": padding}),
        Case((q2, k2, normal(rng, b, tq, 6)), "causal mask", {"mask": causal}),
        Case((q, k, v), "a fully masked row (query 2 of example 1 sees no key)", {"mask": fully}),
    ]


TASKS = (
    Task(
        LESSON,
        "scaled_dot_product_attention",
        4,
        cases=_attention_cases,
        reference=_attention_reference,
        hint="softmax(Q K^T / sqrt(d_k)) V, softmax over the keys (last axis). Masked scores become a "
        "large negative number before the softmax; a row whose every key is masked attends to all "
        "keys equally (give it scores of 0) instead of producing NaN.",
        rtol=1e-4,
        atol=1e-5,
    ),
    Task(
        LESSON,
        "causal_mask",
        1,
        cases=lambda rng: [Case((int(rng.integers(2, 9)),), "a random length"), Case((1,), "length 1")],
        reference=lambda length: np.tril(np.ones((length, length), bool)),
        hint="row t may look at columns 0..t: True on and below the diagonal (np.tril).",
        exact=True,
    ),
    Task(
        LESSON,
        "attention_weights",
        2,
        cases=lambda rng: [
            Case((normal(rng, 2, 3, 4), normal(rng, 2, 5, 4)), "2 examples, 3 queries, 5 keys, d=4"),
            Case((normal(rng, 1, 2, 16) * 3, normal(rng, 1, 2, 16) * 3), "larger scores"),
        ],
        reference=lambda q, k: softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])),
        hint="softmax(Q K^T / sqrt(d_k)) over the keys: shape (B, queries, keys), every row sums to 1.",
    ),
)
