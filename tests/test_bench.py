"""The benchmarks compare like with like: a ratio between two different functions means nothing.

bench/ is not part of the test suite (its figures come from `python bench/...`), but the
peer it times against must compute exactly what keraskit computes, on every backend.
"""

import importlib.util
import pathlib

import keras
import numpy as np

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench"


def load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_keras_mha_peer_computes_the_keraskit_block_once_given_its_weights():
    attention = load("attention")
    x = np.random.default_rng(0).normal(size=(2, 9, 24)).astype("float32")
    block = attention.keraskit_block(24, 3, "float32")
    peer = attention.KerasMHABlock(24, 3, "float32")
    ours = keras.ops.convert_to_numpy(block(x))
    before = keras.ops.convert_to_numpy(peer(x))
    assert np.max(np.abs(before - ours)) > 1e-2  # independent initial weights differ

    attention.copy_weights(block, peer, "keras MHA", 24, 3)

    np.testing.assert_allclose(keras.ops.convert_to_numpy(peer(x)), ours, atol=1e-5)


def test_the_throughput_table_computes_mfu_from_the_median_step():
    throughput = load("vit_throughput")
    result = {"times": [0.5, 0.1, 0.2], "peak": 1e12, "device": "test GPU", "dtype": "bf16"}
    row = throughput.table_row("keras-jax", result, {"batch": 10}, flops_per_image=5e9)
    assert row["images/s"] == 10 / 0.2  # the median step, not the mean
    assert row["MFU"] == f"{100 * 50 * 5e9 / 1e12:.1f}%"
