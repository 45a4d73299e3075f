"""Shared fixtures. Each pytest process runs on one backend, set by KERAS_BACKEND."""

import keras
import numpy as np
import pytest


def to_numpy(x):
    """A backend tensor or variable as a NumPy array (works for torch tensors needing grad)."""
    if isinstance(x, keras.Variable):
        x = x.value
    return keras.ops.convert_to_numpy(x)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Every test starts from float32 and a fixed seed, whatever the previous one did."""
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    keras.backend.clear_session()


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend: {keras.backend.backend()}"
