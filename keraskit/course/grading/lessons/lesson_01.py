"""Lesson 01, word embeddings: the tasks of exercises/01_word_embeddings.ipynb.

Example:

>>> [task.name for task in TASKS]
['cosine_similarity', 'nearest_neighbours', 'one_hot', 'embedding_lookup']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import cosine_similarity, normal
from keraskit.course.grading.tasks import Case, Task

LESSON = "01"


def _neighbours_reference(query, vectors, k):
    scores = cosine_similarity(query[None], vectors)[0]
    return np.argsort(-scores, kind="stable")[:k]


TASKS = (
    Task(
        LESSON,
        "cosine_similarity",
        2,
        cases=lambda rng: [
            Case((normal(rng, 3, 5), normal(rng, 4, 5)), "3 queries vs 4 vectors of size 5"),
            Case((normal(rng, 1, 16), normal(rng, 7, 16) * 100), "vectors of very different lengths"),
            Case((normal(rng, 2, 3), normal(rng, 2, 3)), "2 vs 2 vectors of size 3"),
        ],
        reference=cosine_similarity,
        hint="cos(a, b) = a.b / (|a| |b|): divide each row by its length (norm over the last axis), "
        "then take every dot product with one matrix product, queries @ vectors.T.",
    ),
    Task(
        LESSON,
        "nearest_neighbours",
        2,
        cases=lambda rng: [
            Case((normal(rng, 8), normal(rng, 30, 8), 3), "k=3 among 30 vectors"),
            Case(
                (normal(rng, 4), normal(rng, 10, 4) * rng.uniform(0.1, 10, (10, 1)), 5),
                "k=5, vectors of different lengths (cosine ignores length)",
            ),
        ],
        reference=_neighbours_reference,
        hint="rank by cosine similarity, not by dot product or distance, highest first; return the k "
        "indices (e.g. np.argsort(-scores)[:k]).",
        exact=True,
    ),
    Task(
        LESSON,
        "one_hot",
        1,
        cases=lambda rng: [
            Case((rng.integers(0, 7, 5), 7), "5 ids, vocabulary of 7"),
            Case((np.array([0]), 1), "one id, vocabulary of 1"),
        ],
        reference=lambda ids, vocabulary_size: np.eye(vocabulary_size)[ids],
        hint="row i is all zeros except a 1 in column ids[i]; shape (len(ids), vocabulary_size).",
    ),
    Task(
        LESSON,
        "embedding_lookup",
        1,
        cases=lambda rng: [
            Case((rng.integers(0, 10, (2, 4)), normal(rng, 10, 3)), "a (2, 4) batch of ids"),
            Case((np.array([3, 3]), normal(rng, 5, 2)), "the same id twice"),
        ],
        reference=lambda ids, table: table[ids],
        hint="an Embedding layer is a table lookup: row ids[...] of the table, so (B, T) ids -> (B, T, D).",
    ),
)
