"""Lesson 07, the decoder: the tasks of exercises/07_decoder.ipynb.

Example:

>>> [task.name for task in TASKS]
['teacher_forcing_inputs', 'greedy_decode', 'causal_padding_mask']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import normal
from keraskit.course.grading.tasks import Case, Task

LESSON = "07"


def _teacher_forcing_reference(targets, start_id):
    start = np.full((targets.shape[0], 1), start_id, targets.dtype)
    return np.concatenate([start, targets[:, :-1]], axis=1)


def _greedy_reference(transition, start_id, end_id, max_length):
    tokens, last = [], start_id
    for _ in range(max_length):
        last = int(np.argmax(transition[last]))
        tokens.append(last)
        if last == end_id:
            break
    return np.array(tokens, dtype="int64")


def _greedy_cases(rng):
    table = normal(rng, 8, 8)
    chain = normal(rng, 6, 6) - 10
    for token, following in ((0, 3), (3, 4), (4, 2), (2, 5)):
        chain[token, following] = 10  # 0 -> 3 -> 4 -> 2 -> 5 (the end)
    loop = np.zeros((4, 4), "float32")
    loop[0, 2] = loop[2, 1] = loop[1, 2] = 1.0  # 0 -> 2 -> 1 -> 2 -> ... never ends
    return [
        Case((chain, 0, 5, 10), "a chain that reaches the end token after 4 steps"),
        Case((loop, 0, 3, 7), "a loop that never reaches the end: stop at max_length"),
        Case((table, 0, 7, 12), "a random bigram table"),
    ]


TASKS = (
    Task(
        LESSON,
        "teacher_forcing_inputs",
        2,
        cases=lambda rng: [
            Case((rng.integers(3, 20, (3, 6)), 1), "3 targets of 6 tokens, start id 1"),
            Case((rng.integers(3, 20, (1, 1)), 2), "a single token, start id 2"),
        ],
        reference=_teacher_forcing_reference,
        hint="the decoder reads the target shifted right by one: the start id first, then every target "
        "token but the last (same shape as the targets).",
        exact=True,
    ),
    Task(
        LESSON,
        "greedy_decode",
        3,
        cases=_greedy_cases,
        reference=_greedy_reference,
        hint="start from start_id; at each step take the argmax of the logits for the last token, "
        "append it, and stop after appending end_id or after max_length tokens. Return the "
        "generated ids (not the start id).",
        exact=True,
    ),
    Task(
        LESSON,
        "causal_padding_mask",
        2,
        cases=lambda rng: [
            Case((np.array([[5, 7, 9, 0, 0], [3, 4, 0, 0, 0]]),), "two padded target sequences"),
            Case((rng.integers(1, 9, (1, 4)),), "no padding: just causal"),
        ],
        reference=lambda ids: np.tril(np.ones((ids.shape[1],) * 2, bool))[None] & (ids != 0)[:, None, :],
        hint="(B, T) ids -> (B, T, T): key j visible to query i when j <= i and ids[j] is not padding (0).",
        exact=True,
    ),
)
