"""Fashion-MNIST lookup (against Keras's own loader) and the synthetic shapes dataset."""

import gzip
import os
import subprocess
import sys
import urllib.error

import keras
import numpy as np
import pytest

from keraskit.course.data import (
    FASHION_MNIST_CLASSES,
    SHAPE_NAMES,
    DatasetUnavailableError,
    find_fashion_mnist,
    load_fashion_mnist,
    synthetic_shapes,
)
from keraskit.course.data import fashion_mnist as fashion_module
from keraskit.course.data.fashion_mnist import FASHION_MNIST_FILES


def write_idx(folder, rng, n_train=6, n_test=4):
    """Write small but valid Fashion-MNIST-format gzip files (the IDX format's headers)."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for key, array in arrays.items():
        if key.startswith("x"):
            header = np.array([2051, len(array), 28, 28], ">i4").tobytes()
        else:
            header = np.array([2049, len(array)], ">i4").tobytes()
        with gzip.open(folder / FASHION_MNIST_FILES[key], "wb") as file:
            file.write(header + array.tobytes())
    return arrays


def test_loader_returns_what_keras_own_loader_returns_for_the_same_files(tmp_path, monkeypatch,
                                                                        rng):
    keras_home = tmp_path / "keras_home"
    write_idx(keras_home / "datasets" / "fashion-mnist", rng)
    # Keras's loader, in a subprocess, reading its cache (no download: the files are there).
    script = (
        "import numpy as np, keras, sys\n"
        "(a, b), (c, d) = keras.datasets.fashion_mnist.load_data()\n"
        "np.savez(sys.argv[1], a=a, b=b, c=c, d=d)\n"
    )
    reference = tmp_path / "keras.npz"
    env = dict(os.environ, KERAS_HOME=str(keras_home))
    subprocess.run([sys.executable, "-c", script, str(reference)], env=env, check=True,
                   timeout=300, capture_output=True)
    expected = np.load(reference)
    monkeypatch.setenv("KERASKIT_DATA_DIR", str(keras_home / "datasets"))
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    for got, key in ((x_train, "a"), (y_train, "b"), (x_test, "c"), (y_test, "d")):
        assert got.dtype == expected[key].dtype and got.shape == expected[key].shape
        np.testing.assert_array_equal(got, expected[key])


def test_lookup_order_prefers_keraskit_data_dir(tmp_path, monkeypatch, rng):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    write_idx(tmp_path / "home" / ".keras" / "datasets" / "fashion-mnist", rng)
    assert find_fashion_mnist() == tmp_path / "home" / ".keras" / "datasets" / "fashion-mnist"
    write_idx(tmp_path / "mine", rng)
    monkeypatch.setenv("KERASKIT_DATA_DIR", str(tmp_path / "mine"))
    assert find_fashion_mnist() == tmp_path / "mine"


def test_offline_without_files_raises_an_error_that_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(fashion_module, "fashion_mnist_search_path", lambda: [tmp_path / "none"])

    def offline():
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(DatasetUnavailableError) as error:
        load_fashion_mnist()
    message = str(error.value)
    assert "could not be downloaded" in message and str(tmp_path / "none") in message
    assert "train-images-idx3-ubyte.gz" in message and "KERASKIT_DATA_DIR" in message


def test_real_fashion_mnist_from_debian_package():
    """The real data (`apt-get install dataset-fashion-mnist`, done by make test as root)."""
    if find_fashion_mnist() is None:
        if os.environ.get("CI"):
            pytest.fail("CI installs dataset-fashion-mnist, but no Fashion-MNIST files were found")
        pytest.skip("Fashion-MNIST files not on this machine (apt-get install dataset-fashion-mnist)")
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    # The published dataset is balanced: 6,000 training and 1,000 test images per class.
    assert np.bincount(y_train).tolist() == [6000] * len(FASHION_MNIST_CLASSES)
    assert np.bincount(y_test).tolist() == [1000] * len(FASHION_MNIST_CLASSES)


def test_synthetic_shapes_are_reproducible_and_labelled():
    images, labels = synthetic_shapes(400, image_size=20, seed=3)
    again, labels_again = synthetic_shapes(400, image_size=20, seed=3)
    other, _ = synthetic_shapes(400, image_size=20, seed=4)
    np.testing.assert_array_equal(images, again)
    np.testing.assert_array_equal(labels, labels_again)
    assert not np.array_equal(images, other)
    assert images.shape == (400, 20, 20, 3) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    assert set(labels.tolist()) == set(range(len(SHAPE_NAMES)))


def test_synthetic_shapes_differ_by_outline_not_by_area():
    """Circles cover more pixels than crosses: the label is visible in the shape itself."""
    images, labels = synthetic_shapes(2000, image_size=32, channels=1, seed=0, noise=0.0)
    covered = (images[..., 0] > 0.5).mean(axis=(1, 2))
    circle, cross = SHAPE_NAMES.index("circle"), SHAPE_NAMES.index("cross")
    assert covered[labels == circle].mean() > 1.5 * covered[labels == cross].mean()


def test_synthetic_shapes_reject_bad_arguments():
    with pytest.raises(ValueError, match=r"channels=2"):
        synthetic_shapes(10, channels=2)
