"""keraskit.course.data: datasets that work offline, from real files or generated from a seed."""

from keraskit.course.data.cifar10 import CIFAR10_CLASSES, find_cifar10, load_cifar10
from keraskit.course.data.corpus import WORD_GROUPS, build_vocabulary, decode, encode, tokenize, toy_corpus
from keraskit.course.data.fashion_mnist import FASHION_MNIST_CLASSES, find_fashion_mnist, load_fashion_mnist
from keraskit.course.data.files import (
    DatasetUnavailableError,
    dataset_search_path,
    find_dataset,
    keras_datasets_folders,
)
from keraskit.course.data.images import IMAGE_DATASETS, load_images
from keraskit.course.data.sentiment import load_imdb, opinion_pairs, review_splits, synthetic_reviews
from keraskit.course.data.synthetic import SHAPE_NAMES, synthetic_shapes
from keraskit.course.data.translation import TranslationData, number_translation, translation_data

__all__ = [
    "CIFAR10_CLASSES",
    "IMAGE_DATASETS",
    "find_cifar10",
    "load_cifar10",
    "load_images",
    "FASHION_MNIST_CLASSES",
    "SHAPE_NAMES",
    "TranslationData",
    "WORD_GROUPS",
    "DatasetUnavailableError",
    "build_vocabulary",
    "dataset_search_path",
    "decode",
    "encode",
    "find_dataset",
    "find_fashion_mnist",
    "keras_datasets_folders",
    "load_fashion_mnist",
    "load_imdb",
    "number_translation",
    "opinion_pairs",
    "review_splits",
    "synthetic_reviews",
    "synthetic_shapes",
    "tokenize",
    "toy_corpus",
    "translation_data",
]
