"""The dataset file lookup, Fashion-MNIST (against Keras's own loader) and the synthetic shapes."""

import gzip
import os
import subprocess
import sys
import urllib.error
from pathlib import Path

import keras
import numpy as np
import pytest

from keraskit.course.data import (
    FASHION_MNIST_CLASSES,
    SHAPE_NAMES,
    DatasetUnavailableError,
    dataset_search_path,
    find_dataset,
    find_fashion_mnist,
    keras_datasets_folders,
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


@pytest.fixture
def clean_env(monkeypatch):
    """No data variables from the machine running the tests: each test sets what it needs."""
    for name in ("KERAS_HOME", "KERASKIT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


# Where Keras's own loader reads Fashion-MNIST: get_file finds the cached file and returns
# its path without downloading (the origin is never contacted).
KERAS_READS = (
    "import os, sys, numpy as np, keras\n"
    "(a, b), (c, d) = keras.datasets.fashion_mnist.load_data()\n"
    "np.savez(sys.argv[1], a=a, b=b, c=c, d=d)\n"
    "path = keras.utils.get_file('t10k-labels-idx1-ubyte.gz', origin='http://invalid/',\n"
    "                            cache_subdir=os.path.join('datasets', 'fashion-mnist'))\n"
    "print(os.path.dirname(path))\n"
)


@pytest.mark.parametrize("keras_home_from", ["KERAS_HOME", "HOME"])
def test_loader_reads_the_folder_and_the_arrays_keras_own_loader_reads(
    keras_home_from, tmp_path, clean_env, rng
):
    if keras_home_from == "KERAS_HOME":
        clean_env.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
        cache = tmp_path / "keras_home" / "datasets" / "fashion-mnist"
    else:
        clean_env.setenv("HOME", str(tmp_path / "home"))
        cache = tmp_path / "home" / ".keras" / "datasets" / "fashion-mnist"
    write_idx(cache, rng)
    clean_env.setattr(fashion_module, "FASHION_MNIST_SYSTEM_FOLDERS", ())
    reference = tmp_path / "keras.npz"
    keras_run = subprocess.run(
        [sys.executable, "-c", KERAS_READS, str(reference)],
        env=dict(os.environ),
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )
    keras_folder = keras_run.stdout.strip().splitlines()[-1]
    assert keras_folder == str(cache)
    assert find_fashion_mnist() == cache
    expected = np.load(reference)
    (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
    for got, key in ((x_train, "a"), (y_train, "b"), (x_test, "c"), (y_test, "d")):
        assert got.dtype == expected[key].dtype and got.shape == expected[key].shape
        np.testing.assert_array_equal(got, expected[key])


def test_keras_home_replaces_the_home_folder_and_wins_over_the_system_copy(tmp_path, clean_env, rng):
    """With KERAS_HOME set, Keras never looks in ~/.keras: neither does the lookup."""
    clean_env.setenv("HOME", str(tmp_path / "home"))
    write_idx(tmp_path / "home" / ".keras" / "datasets" / "fashion-mnist", rng)
    system = tmp_path / "system"
    write_idx(system, rng)
    clean_env.setattr(fashion_module, "FASHION_MNIST_SYSTEM_FOLDERS", (system,))
    clean_env.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    assert find_fashion_mnist() == system
    in_keras_home = write_idx(tmp_path / "keras_home" / "datasets" / "fashion-mnist", rng)
    assert find_fashion_mnist() == tmp_path / "keras_home" / "datasets" / "fashion-mnist"
    (x_train, y_train), (x_test, _) = load_fashion_mnist()
    np.testing.assert_array_equal(x_train, in_keras_home["x_train"])
    np.testing.assert_array_equal(y_train, in_keras_home["y_train"])
    np.testing.assert_array_equal(x_test, in_keras_home["x_test"])


def test_keraskit_data_dir_wins_over_keras_home(tmp_path, clean_env, rng):
    clean_env.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    write_idx(tmp_path / "keras_home" / "datasets" / "fashion-mnist", rng)
    mine = write_idx(tmp_path / "mine", rng, n_train=5)
    clean_env.setenv("KERASKIT_DATA_DIR", str(tmp_path / "mine"))
    assert find_fashion_mnist() == tmp_path / "mine"
    (x_train, _), _ = load_fashion_mnist()
    np.testing.assert_array_equal(x_train, mine["x_train"])
    # Its dataset-named subfolder comes before the folder itself.
    write_idx(tmp_path / "mine" / "fashion-mnist", rng)
    assert find_fashion_mnist() == tmp_path / "mine" / "fashion-mnist"


def test_lookup_order_prefers_keraskit_data_dir(tmp_path, clean_env, rng):
    clean_env.setenv("HOME", str(tmp_path / "home"))
    write_idx(tmp_path / "home" / ".keras" / "datasets" / "fashion-mnist", rng)
    assert find_fashion_mnist() == tmp_path / "home" / ".keras" / "datasets" / "fashion-mnist"
    write_idx(tmp_path / "mine", rng)
    clean_env.setenv("KERASKIT_DATA_DIR", str(tmp_path / "mine"))
    assert find_fashion_mnist() == tmp_path / "mine"


def test_search_path_order_is_data_dir_then_keras_cache_then_system(tmp_path, clean_env):
    clean_env.setenv("KERASKIT_DATA_DIR", str(tmp_path / "mine"))
    clean_env.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    (tmp_path / "keras_home").mkdir()
    cache = tmp_path / "keras_home" / "datasets"
    assert dataset_search_path("set", keras_folders=["a/set", "set"], system_folders=["/srv/set"]) == [
        tmp_path / "mine" / "set",
        tmp_path / "mine",
        cache / "a" / "set",
        cache / "set",
        Path("/srv/set"),
    ]
    clean_env.delenv("KERASKIT_DATA_DIR")
    assert dataset_search_path("set") == [cache / "set"]


def test_an_unwritable_keras_home_adds_the_tmp_folder_keras_downloads_to(tmp_path, clean_env):
    # A folder below a regular file can never be created: unwritable even for root.
    (tmp_path / "file").write_text("")
    clean_env.setenv("KERAS_HOME", str(tmp_path / "file" / "keras_home"))
    assert keras_datasets_folders() == [
        tmp_path / "file" / "keras_home" / "datasets",
        Path("/tmp/.keras/datasets"),
    ]
    # No KERAS_HOME and an unwritable home folder: Keras's home itself is /tmp/.keras.
    clean_env.delenv("KERAS_HOME")
    clean_env.setenv("HOME", str(tmp_path / "file" / "home"))
    assert keras_datasets_folders() == [Path("/tmp/.keras/datasets")]


def test_find_dataset_skips_a_folder_with_only_some_of_the_files(tmp_path):
    partial, complete = tmp_path / "partial", tmp_path / "complete"
    for folder, names in ((partial, ["a", "b"]), (complete, ["a", "b", "c"])):
        folder.mkdir()
        for name in names:
            (folder / name).write_bytes(b"x")
    (partial / "c").mkdir()  # a folder of that name is not the file
    assert find_dataset(["a", "b", "c"], [partial, complete]) == complete
    assert find_dataset(["a", "b"], [partial, complete]) == partial
    assert find_dataset(["d"], [partial, complete]) is None


def test_find_dataset_rejects_a_single_name_and_an_empty_list(tmp_path):
    with pytest.raises(ValueError, match=r"`files`.*files='imdb.npz'"):
        find_dataset("imdb.npz", [tmp_path])
    with pytest.raises(ValueError, match=r"`files`.*files=\[\]"):
        find_dataset([], [tmp_path])
    with pytest.raises(ValueError, match=r"`system_folders`.*'/srv/set'"):
        dataset_search_path("set", system_folders="/srv/set")


def test_offline_error_lists_the_keras_home_folder_it_searched(tmp_path, clean_env):
    clean_env.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    clean_env.setattr(fashion_module, "FASHION_MNIST_SYSTEM_FOLDERS", ())

    def offline():
        raise urllib.error.URLError("no network")

    clean_env.setattr(keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(DatasetUnavailableError) as error:
        load_fashion_mnist()
    searched = str(error.value).split("Searched:\n")[1].splitlines()
    assert searched[0].strip() == str(tmp_path / "keras_home" / "datasets" / "fashion-mnist")
    assert not any(".keras" in line for line in searched)  # not ~/.keras: KERAS_HOME replaces it


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
