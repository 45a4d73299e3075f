"""keraskit.data: datasets that work offline, from real files or generated from a seed."""

from keraskit.data.corpus import WORD_GROUPS, build_vocabulary, decode, encode, tokenize, toy_corpus
from keraskit.data.fashion_mnist import (
    FASHION_MNIST_CLASSES,
    DatasetUnavailableError,
    find_fashion_mnist,
    load_fashion_mnist,
)
from keraskit.data.synthetic import SHAPE_NAMES, synthetic_shapes

__all__ = [
    "FASHION_MNIST_CLASSES",
    "SHAPE_NAMES",
    "WORD_GROUPS",
    "DatasetUnavailableError",
    "build_vocabulary",
    "decode",
    "encode",
    "find_fashion_mnist",
    "load_fashion_mnist",
    "synthetic_shapes",
    "tokenize",
    "toy_corpus",
]
