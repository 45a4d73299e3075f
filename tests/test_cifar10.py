"""CIFAR-10 lookup (Keras's cache, KERASKIT_DATA_DIR), its reader against Keras's, the offline error,
and load_images."""

import pickle
import urllib.error

import keras
import numpy as np
import pytest

from keraskit.course.data import (
    CIFAR10_CLASSES,
    DatasetUnavailableError,
    find_cifar10,
    load_cifar10,
    load_images,
)
from keraskit.course.data import cifar10 as cifar_module
from keraskit.course.data.cifar10 import CIFAR10_BATCHES


def write_batches(folder, rng, per_batch=3):
    """Small but valid CIFAR-10 python batches: pickled dicts with bytes keys, as published."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in CIFAR10_BATCHES:
        batch = {
            b"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8),
            b"labels": rng.integers(0, 10, per_batch).tolist(),
        }
        with open(folder / name, "wb") as file:
            pickle.dump(batch, file)


def test_loader_reads_batches_as_keras_own_batch_reader_does(tmp_path, monkeypatch, rng):
    # keras.datasets.cifar10.load_data() insists on its (hash-checked) archive, so the
    # reference is the function it reads each batch with, plus its channels-last transpose.
    from keras.src.datasets.cifar import load_batch

    folder = tmp_path / "cifar-10-batches-py"
    write_batches(folder, rng)
    parts = [load_batch(str(folder / name)) for name in CIFAR10_BATCHES]
    expected_train = np.concatenate([images for images, _ in parts[:5]]).transpose(0, 2, 3, 1)
    expected_labels = np.concatenate([labels for _, labels in parts[:5]])
    monkeypatch.setenv("KERASKIT_DATA_DIR", str(tmp_path))
    (x_train, y_train), (x_test, y_test) = load_cifar10()
    assert x_train.shape == (15, 32, 32, 3) and x_test.shape == (3, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    np.testing.assert_array_equal(x_train, expected_train)
    np.testing.assert_array_equal(y_train, expected_labels)
    np.testing.assert_array_equal(x_test, parts[5][0].transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y_test, parts[5][1])


def test_pixels_are_laid_out_channels_last(tmp_path, monkeypatch):
    # One image whose red plane is 1s, green 2s, blue 3s: each pixel must read (1, 2, 3).
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    data = np.repeat(np.array([1, 2, 3], np.uint8), 1024)[None]
    for name in CIFAR10_BATCHES:
        with open(folder / name, "wb") as file:
            pickle.dump({b"data": data, b"labels": [7]}, file)
    monkeypatch.setenv("KERASKIT_DATA_DIR", str(tmp_path))
    assert find_cifar10() == folder
    (x_train, y_train), _ = load_cifar10()
    assert x_train.shape == (5, 32, 32, 3)
    assert (x_train[:, 5, 9] == [1, 2, 3]).all() and (y_train == 7).all()


@pytest.fixture
def clean_env(monkeypatch):
    """No data variables from the machine running the tests: each test sets what it needs."""
    for name in ("KERAS_HOME", "KERASKIT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    "inside",
    [
        "cifar-10-batches-py-target/cifar-10-batches-py",  # Keras 3
        "cifar-10-batches-py",
    ],
)  # the archive unpacked by hand
def test_loader_finds_the_batches_in_keras_home(inside, tmp_path, clean_env):
    clean_env.setenv("HOME", str(tmp_path / "home"))
    write_batches(tmp_path / "home" / ".keras" / "datasets" / "cifar-10-batches-py", np.random.default_rng(0))
    clean_env.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    folder = tmp_path / "keras_home" / "datasets" / inside
    write_batches(folder, np.random.default_rng(1))
    assert find_cifar10() == folder  # not the ~/.keras copy: KERAS_HOME replaces it, as in Keras
    (x_train, _), (x_test, y_test) = load_cifar10()
    with open(folder / "test_batch", "rb") as file:
        written = pickle.load(file)
    np.testing.assert_array_equal(x_test.transpose(0, 3, 1, 2).reshape(len(x_test), -1), written[b"data"])
    np.testing.assert_array_equal(y_test, written[b"labels"])


def test_keraskit_data_dir_wins_over_keras_home(tmp_path, clean_env, rng):
    clean_env.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    write_batches(tmp_path / "keras_home" / "datasets" / "cifar-10-batches-py", rng)
    clean_env.setenv("KERASKIT_DATA_DIR", str(tmp_path / "mine"))
    write_batches(tmp_path / "mine", rng, per_batch=2)  # the batches directly in the folder
    assert find_cifar10() == tmp_path / "mine"
    assert load_cifar10()[1][0].shape == (2, 32, 32, 3)
    write_batches(tmp_path / "mine" / "cifar-10-batches-py", rng)
    assert find_cifar10() == tmp_path / "mine" / "cifar-10-batches-py"


def test_offline_error_lists_the_keras_home_folders_searched(tmp_path, clean_env):
    clean_env.setenv("KERAS_HOME", str(tmp_path / "keras_home"))

    def offline():
        raise urllib.error.URLError("no network")

    clean_env.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(DatasetUnavailableError) as error:
        load_cifar10()
    message = str(error.value)
    cache = tmp_path / "keras_home" / "datasets"
    searched = message.split("Searched:\n")[1].splitlines()[:2]
    assert [line.strip() for line in searched] == [
        str(cache / "cifar-10-batches-py-target" / "cifar-10-batches-py"),
        str(cache / "cifar-10-batches-py"),
    ]
    assert f"tar -xzf cifar-10-python.tar.gz -C {cache}" in message


def test_offline_without_files_says_what_to_fetch_and_where(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar_module, "cifar10_search_path", lambda: [tmp_path / "none"])

    def offline():
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(keras.datasets.cifar10, "load_data", offline)
    with pytest.raises(DatasetUnavailableError) as error:
        load_cifar10()
    message = str(error.value)
    assert "could not be downloaded" in message and str(tmp_path / "none") in message
    assert "cifar-10-python.tar.gz" in message and "KERASKIT_DATA_DIR" in message


def test_load_images_gives_float_images_with_channels_and_the_class_names(tmp_path, monkeypatch, rng):
    write_batches(tmp_path / "cifar-10-batches-py", rng)
    monkeypatch.setenv("KERASKIT_DATA_DIR", str(tmp_path))
    (x_train, y_train), (x_test, y_test), classes = load_images("cifar10")
    raw_train = load_cifar10()[0][0]
    assert x_train.dtype == np.float32 and y_train.dtype == np.int32
    np.testing.assert_allclose(x_train, raw_train / 255.0, rtol=1e-6)
    assert classes == CIFAR10_CLASSES and len(classes) == 10
    with pytest.raises(ValueError, match="cifar100"):
        load_images("cifar100")
