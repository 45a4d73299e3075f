"""CIFAR-10 (Krizhevsky, 2009): 32x32 colour photographs in 10 classes.

Local files first, the internet last. The folder `cifar-10-batches-py` (what
the official `cifar-10-python.tar.gz` unpacks to, and what
`keras.datasets.cifar10` caches) is looked for (by `keraskit.course.data.files`),
in order, in:
1. `$KERASKIT_DATA_DIR/cifar-10-batches-py`, then `$KERASKIT_DATA_DIR` itself,
2. Keras's download cache, `$KERAS_HOME/datasets` when `KERAS_HOME` is set, else
   `~/.keras/datasets` (the `/tmp/.keras` fallback included, see
   `keras_datasets_folders`): first in `cifar-10-batches-py-target/` (where
   Keras 3 unpacks its download), then directly (where the archive unpacks).
Only when none has it does `load_cifar10` ask Keras to download it (170 MB).
"""

import pickle
import shlex

import numpy as np

from keraskit.course.data.files import (
    dataset_search_path,
    download_or_explain,
    find_dataset,
    keras_datasets_folders,
)

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
CIFAR10_BATCHES = tuple(f"data_batch_{index}" for index in range(1, 6)) + ("test_batch",)


def cifar10_search_path():
    """The folders searched for the CIFAR-10 batch files, in order (see the module docstring)."""
    return dataset_search_path(
        "cifar-10-batches-py",
        keras_folders=["cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py"],
    )


def find_cifar10():
    """The first folder holding all six CIFAR-10 batch files, or None.

    Example:

    >>> folder = find_cifar10()  # None until cifar-10-batches-py is on this machine
    >>> folder is None or all((folder / name).is_file() for name in CIFAR10_BATCHES)
    True
    """
    return find_dataset(CIFAR10_BATCHES, cifar10_search_path())


def _read_batch(path):
    # Each batch is a pickled dict: b"data" (N, 3072) uint8 stored channel by
    # channel (1024 red, 1024 green, 1024 blue values), b"labels" a list of ints.
    with open(path, "rb") as file:
        batch = pickle.load(file, encoding="bytes")
    images = np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
    labels = np.asarray(batch[b"labels"], dtype=np.uint8)
    return images.transpose(0, 2, 3, 1), labels  # channels last, as Keras's layers expect


def load_cifar10():
    """Loads CIFAR-10: 50,000 training and 10,000 test colour images, 10 classes.

    Returns `(x_train, y_train), (x_test, y_test)`: images `uint8 (N, 32, 32, 3)`
    in 0..255 (channels last), labels `uint8 (N,)` in 0..9 (names in
    `CIFAR10_CLASSES`). Unlike `keras.datasets.cifar10.load_data()`, labels are
    flat, like Fashion-MNIST's, so the two datasets are interchangeable.

    Raises:
        DatasetUnavailableError: no local copy and the download failed; the
            message says which file to fetch and where to unpack it.

    Example (needs the files or the internet, so not run as a doctest):

        (x_train, y_train), (x_test, y_test) = load_cifar10()
        x_train.shape, y_train.shape   # ((50000, 32, 32, 3), (50000,))
    """
    folder = find_cifar10()
    if folder is None:
        (x_train, y_train), (x_test, y_test) = _download_cifar10()
        return (x_train, y_train.reshape(-1)), (x_test, y_test.reshape(-1))
    parts = [_read_batch(folder / name) for name in CIFAR10_BATCHES[:5]]
    x_train = np.concatenate([images for images, _ in parts])
    y_train = np.concatenate([labels for _, labels in parts])
    x_test, y_test = _read_batch(folder / "test_batch")
    return (x_train, y_train), (x_test, y_test)


def _download_cifar10():
    import keras

    cache = shlex.quote(str(keras_datasets_folders()[0]))  # the folder Keras reads first
    return download_or_explain(
        "CIFAR-10",
        keras.datasets.cifar10.load_data,
        cifar10_search_path(),
        f"Fetch {CIFAR10_URL} (170 MB) on a machine that is online, then unpack it "
        "where it is searched, e.g.\n"
        f"  mkdir -p {cache} && tar -xzf cifar-10-python.tar.gz -C {cache}\n"
        "or unpack it anywhere and set KERASKIT_DATA_DIR to the folder that holds "
        "cifar-10-batches-py.",
    )
