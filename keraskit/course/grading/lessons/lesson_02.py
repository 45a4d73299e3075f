"""Lesson 02, positional encoding: the tasks of exercises/02_positional_encoding.ipynb.

Example:

>>> [task.name for task in TASKS]
['sinusoidal_encoding', 'sincos_2d_encoding', 'position_similarity']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import cosine_similarity, normal
from keraskit.course.grading.tasks import Case, Task

LESSON = "02"


def _sinusoidal_reference(length, dim):
    positions = np.arange(length)[:, None]
    frequencies = 1.0 / 10000.0 ** (np.arange(0, dim, 2) / dim)
    angles = positions * frequencies[None]  # (length, dim/2)
    encoding = np.zeros((length, dim))
    encoding[:, 0::2], encoding[:, 1::2] = np.sin(angles), np.cos(angles)
    return encoding


def _sincos_2d_reference(rows, columns, dim):
    # Imported when grading, not on import: `check` must not need a backend before it runs.
    from keras import ops

    from keraskit.layers import sincos_2d_encoding

    return ops.convert_to_numpy(sincos_2d_encoding((rows, columns), dim))


TASKS = (
    Task(
        LESSON,
        "sinusoidal_encoding",
        3,
        cases=lambda rng: [
            Case((int(rng.integers(3, 20)), 2 * int(rng.integers(2, 17))), "a random length and even dim"),
            Case((1, 4), "length 1 (position 0: sin 0 = 0, cos 0 = 1)"),
            Case((50, 128), "length 50, dim 128"),
        ],
        reference=_sinusoidal_reference,
        hint="PE[pos, 2i] = sin(pos / 10000^(2i/dim)) and PE[pos, 2i+1] = cos(same angle): even "
        "columns sine, odd columns cosine, the pair i sharing one frequency.",
    ),
    Task(
        LESSON,
        "sincos_2d_encoding",
        2,
        cases=lambda rng: [
            Case((3, 4, 8), "a 3x4 grid, dim 8"),
            Case((2, 2, 16), "a 2x2 grid, dim 16"),
            # Drawn when grading, so a table of the fixed cases' answers earns nothing.
            Case(
                (int(rng.integers(2, 7)), int(rng.integers(2, 7)), 4 * int(rng.integers(1, 9))),
                "a random grid and dim",
            ),
        ],
        reference=_sincos_2d_reference,
        hint="half the channels encode the row, half the column, each with the 1D sinusoidal encoding "
        "of dim/2 channels (sines in the first half of each, cosines in the second); the patch at "
        "(r, c) is number r * columns + c. Compare with keraskit.layers.sincos_2d_encoding's "
        "docstring.",
        rtol=1e-4,
        atol=1e-5,
    ),
    Task(
        LESSON,
        "position_similarity",
        2,
        cases=lambda rng: [
            Case((normal(rng, 6, 8),), "6 positions of width 8"),
            Case((normal(rng, 3, 2) * 10,), "long vectors: cosine ignores length"),
        ],
        reference=lambda encoding: cosine_similarity(encoding, encoding),
        hint="the cosine similarity of every position's vector with every other: an (N, N) matrix "
        "with ones on the diagonal.",
    ),
)
