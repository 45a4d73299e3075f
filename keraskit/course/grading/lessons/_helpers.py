"""What the references and input draws of several lessons share."""

import numpy as np


def softmax(x, axis=-1):
    """A numerically stable softmax in NumPy.

    Example:

    >>> softmax(np.array([0.0, 0.0, 1000.0])).round(3).tolist()
    [0.0, 0.0, 1.0]
    """
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def normal(rng, *shape):
    """Standard normal draws of `shape` from `rng`, as float32 (what learners' layers receive).

    Example:

    >>> x = normal(np.random.default_rng(0), 2, 3)
    >>> x.shape, x.dtype
    ((2, 3), dtype('float32'))
    """
    return rng.normal(size=shape).astype("float32")


def cosine_similarity(a, b):
    """Cosine similarity of every row of `a` with every row of `b`: shape (len(a), len(b)).

    Example:

    >>> cosine_similarity(np.array([[1.0, 0.0]]), np.array([[2.0, 0.0], [0.0, 3.0]])).tolist()
    [[1.0, 0.0]]
    """
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return a @ b.T
