"""Lesson 04, multi-head attention: the tasks of exercises/04_multi_head_attention.ipynb.

Example:

>>> [task.name for task in TASKS]
['split_heads', 'merge_heads', 'multi_head_attention']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import normal, softmax
from keraskit.course.grading.tasks import Case, Task

LESSON = "04"


def _mha_reference(x, wq, wk, wv, wo, num_heads):
    b, t, d = x.shape

    def split(y):
        return y.reshape(b, t, num_heads, -1).transpose(0, 2, 1, 3)

    q, k, v = split(x @ wq), split(x @ wk), split(x @ wv)
    weights = softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]))
    heads = (weights @ v).transpose(0, 2, 1, 3).reshape(b, t, -1)
    return heads @ wo


TASKS = (
    Task(
        LESSON,
        "split_heads",
        2,
        cases=lambda rng: [
            Case((normal(rng, 2, 5, 12), 3), "(2, 5, 12) into 3 heads"),
            Case((normal(rng, 1, 7, 8), 8), "8 heads of width 1"),
        ],
        reference=lambda x, num_heads: x.reshape(x.shape[0], x.shape[1], num_heads, -1).transpose(0, 2, 1, 3),
        hint="(B, T, D) -> reshape to (B, T, H, D/H) -> transpose to (B, H, T, D/H): head h gets "
        "channels h*D/H ... (h+1)*D/H - 1 of every token.",
    ),
    Task(
        LESSON,
        "merge_heads",
        2,
        cases=lambda rng: [
            Case((normal(rng, 2, 3, 5, 4),), "(2, 3 heads, 5 tokens, 4)"),
            Case((normal(rng, 1, 1, 6, 9),), "one head"),
        ],
        reference=lambda x: x.transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1),
        hint="the inverse of split_heads: transpose (B, H, T, d) to (B, T, H, d), then reshape to "
        "(B, T, H*d).",
    ),
    Task(
        LESSON,
        "multi_head_attention",
        3,
        cases=lambda rng: [
            Case(
                (normal(rng, 2, 5, 8), *(normal(rng, 8, 8) / 3 for _ in range(4)), 2),
                "(2, 5, 8) tokens, 2 heads",
            ),
            Case(
                (normal(rng, 1, 3, 12), *(normal(rng, 12, 12) / 3 for _ in range(4)), 4), "4 heads of width 3"
            ),
        ],
        reference=_mha_reference,
        hint="project x with wq, wk, wv (no biases), split_heads each, scaled dot-product attention "
        "per head, merge_heads, then project with wo.",
        rtol=1e-3,
        atol=1e-4,
    ),
)
