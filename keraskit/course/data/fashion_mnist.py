"""Fashion-MNIST (Xiao et al., 2017) from local files first, the internet last.

The four gzip files are the ones `keras.datasets.fashion_mnist` downloads. They
are looked for, in order, in:
1. `$KERASKIT_DATA_DIR/fashion-mnist` (or `$KERASKIT_DATA_DIR` itself),
2. `~/.keras/datasets/fashion-mnist` (where Keras caches its download),
3. `/usr/share/datasets/fashion-mnist` (Debian's `dataset-fashion-mnist` package).
Only when none has them does `load_fashion_mnist` ask Keras to download them.
"""

import gzip
import os
from pathlib import Path

import numpy as np

FASHION_MNIST_FILES = {
    "x_train": "train-images-idx3-ubyte.gz",
    "y_train": "train-labels-idx1-ubyte.gz",
    "x_test": "t10k-images-idx3-ubyte.gz",
    "y_test": "t10k-labels-idx1-ubyte.gz",
}

FASHION_MNIST_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


class DatasetUnavailableError(OSError):
    """A dataset is neither on this machine nor downloadable (e.g. offline)."""


def download_or_explain(name, load, search_path, advice):
    """Calls Keras's downloading loader `load()`; if it fails, says what was searched and what to do.

    Raises:
        DatasetUnavailableError: naming the dataset, the download error, the
            folders searched and `advice` (which files to put where).
    """
    try:
        return load()
    except Exception as error:  # urllib, HTTP, file and archive errors all mean the same here
        searched = "\n".join(f"  {folder}" for folder in search_path)
        raise DatasetUnavailableError(
            f"{name} is not on this machine and could not be downloaded "
            f"({type(error).__name__}: {error}).\nSearched:\n{searched}\n{advice}"
        ) from error


def fashion_mnist_search_path():
    """The folders searched for the Fashion-MNIST files, in order."""
    folders = []
    data_dir = os.environ.get("KERASKIT_DATA_DIR")
    if data_dir:
        folders += [Path(data_dir) / "fashion-mnist", Path(data_dir)]
    folders.append(Path.home() / ".keras" / "datasets" / "fashion-mnist")
    folders.append(Path("/usr/share/datasets/fashion-mnist"))
    return folders


def find_fashion_mnist():
    """The first folder holding all four Fashion-MNIST files, or None."""
    for folder in fashion_mnist_search_path():
        if all((folder / name).is_file() for name in FASHION_MNIST_FILES.values()):
            return folder
    return None


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
        "Fashion-MNIST", keras.datasets.fashion_mnist.load_data, fashion_mnist_search_path(),
        f"Put the four files ({files}) in one of these folders, e.g. "
        "`apt-get install dataset-fashion-mnist` on Debian/Ubuntu, or download them "
        "from https://github.com/zalandoresearch/fashion-mnist and set "
        "KERASKIT_DATA_DIR to their folder.",
    )
