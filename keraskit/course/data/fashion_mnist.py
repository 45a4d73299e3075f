"""Fashion-MNIST (Xiao et al., 2017) from local files first, the internet last.

The four gzip files are the ones `keras.datasets.fashion_mnist` downloads. They
are looked for (by `keraskit.course.data.files`), in order, in:
1. `$KERASKIT_DATA_DIR/fashion-mnist`, then `$KERASKIT_DATA_DIR` itself,
2. `fashion-mnist` in Keras's download cache: `$KERAS_HOME/datasets/fashion-mnist`
   when `KERAS_HOME` is set, else `~/.keras/datasets/fashion-mnist`: where
   `keras.datasets.fashion_mnist.load_data()` downloads them (the `/tmp/.keras`
   fallback included, see `keras_datasets_folders`),
3. `/usr/share/datasets/fashion-mnist` (Debian's `dataset-fashion-mnist` package).
Only when none has them does `load_fashion_mnist` ask Keras to download them.
"""

import gzip
from pathlib import Path

import numpy as np

from keraskit.course.data.files import (  # noqa: F401 (DatasetUnavailableError: its former home)
    DatasetUnavailableError,
    dataset_search_path,
    download_or_explain,
    find_dataset,
)

FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


# Searched after $KERASKIT_DATA_DIR and Keras's cache (a module constant so tests can empty it).
FASHION_MNIST_SYSTEM_FOLDERS = (Path("/usr/share/datasets/fashion-mnist"),)


def fashion_mnist_search_path():
    """The folders searched for the Fashion-MNIST files, in order (see the module docstring)."""
    return dataset_search_path("fashion-mnist", system_folders=FASHION_MNIST_SYSTEM_FOLDERS)


def find_fashion_mnist():
    """The first folder holding all four Fashion-MNIST files, or None.

    Example:

    >>> folder = find_fashion_mnist()  # e.g. /usr/share/datasets/fashion-mnist on Debian
    >>> folder is None or all((folder / name).is_file() for name in FASHION_MNIST_FILES.values())
    True
    """
    return find_dataset(FASHION_MNIST_FILES.values(), fashion_mnist_search_path())


def _read_idx(path, header_bytes):
    # IDX files: a big-endian header (16 bytes for images, 8 for labels), then uint8 data.
    with gzip.open(path, "rb") as file:
        return np.frombuffer(file.read(), np.uint8, offset=header_bytes)


def load_fashion_mnist():
    """Loads Fashion-MNIST: 60,000 training and 10,000 test images of clothing, 10 classes.

    Returns the same arrays as `keras.datasets.fashion_mnist.load_data()`:
    `(x_train, y_train), (x_test, y_test)`, images `uint8 (N, 28, 28)` in
    0..255, labels `uint8 (N,)` in 0..9 (names in `FASHION_MNIST_CLASSES`).
    Local files are used when found (see the module docstring for where);
    otherwise Keras downloads them.

    Raises:
        DatasetUnavailableError: no local copy and the download failed; the
            message says which files to fetch and where to put them.

    Example (needs the files, so not run as a doctest; tests/test_data.py checks it):

        (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
        x_train.shape, x_test.shape   # ((60000, 28, 28), (10000, 28, 28))
    """
    folder = find_fashion_mnist()
    if folder is None:
        return _download_fashion_mnist()
    x_train = _read_idx(folder / FASHION_MNIST_FILES["x_train"], 16).reshape(-1, 28, 28)
    y_train = _read_idx(folder / FASHION_MNIST_FILES["y_train"], 8)
    x_test = _read_idx(folder / FASHION_MNIST_FILES["x_test"], 16).reshape(-1, 28, 28)
    y_test = _read_idx(folder / FASHION_MNIST_FILES["y_test"], 8)
    return (x_train, y_train), (x_test, y_test)


def _download_fashion_mnist():
    import keras

    files = ", ".join(FASHION_MNIST_FILES.values())
    return download_or_explain(
        "Fashion-MNIST",
        keras.datasets.fashion_mnist.load_data,
        fashion_mnist_search_path(),
        f"Put the four files ({files}) in one of these folders, e.g. "
        "`apt-get install dataset-fashion-mnist` on Debian/Ubuntu, or download them "
        "from https://github.com/zalandoresearch/fashion-mnist and set "
        "KERASKIT_DATA_DIR to their folder.",
    )
