"""Shared fixtures. Each pytest process runs on one backend, set by KERAS_BACKEND."""

import os
from pathlib import Path

# Under pytest-xdist (`make test` runs two workers on two cores) every worker's backend,
# and every notebook kernel it starts, would otherwise run one compute thread per core:
# four busy threads on two cores. Oversubscribed, torch ran lessons 09 and 10 in smoke
# mode in 34 s and 45 s; with one thread per worker, 15 s and 22 s (same two tests,
# `pytest -n 2`). Set before Keras imports a backend; kernels inherit the environment.
if os.environ.get("PYTEST_XDIST_WORKER"):
    for variable in ("OMP_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
        os.environ.setdefault(variable, "1")

# On JAX the suite compiles hundreds of small XLA programs, and compiling, not running, is most
# of their time. LLVM's optimisation level 0 compiles faster and changes no results beyond
# rounding, which every test's tolerance allows. Measured with `pytest -n 2` on the 2-core machine
# (2026-12-01): lessons 09-12 in smoke mode on jax 132 s -> 101 s; the model, training, block and
# attention tests 136 s -> 120 s; the whole jax suite 676 s (829 s in the last CI run without it).
# TensorFlow reads the flag too, for its jit_compile; no measurable change there (104 s vs 100 s
# for four lessons). Kernels and subprocesses inherit it. tools/notebooks.py sets the same flag for
# every smoke run it starts (SMOKE_XLA_FLAG), in or outside the tests.
if "--xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_backend_optimization_level=0"
    ).strip()

# JAX's persistent compilation cache (JAX_COMPILATION_CACHE_DIR) is deliberately not set. Started
# empty, shared by the session's processes and caching every compilation
# (JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0; by default only those of 1 s or more), it
# was slower, not faster, in one pair of runs (`pytest -n 2 tests/test_notebooks.py -k smoke_mode`
# on jax, 2026-12-03: 399 s with it, 5,446 cache entries written, then 313 s without). A cache fresh
# for each notebook, which can help only where a lesson compiles the same model twice, moved lessons
# 11 and 12 by less than the spread between runs of one setting (README.md, Results).

import contextlib  # noqa: E402

import keras  # noqa: E402
import numpy as np
import pytest


def to_numpy(x):
    """A backend tensor or variable as a NumPy array (works for torch tensors needing grad)."""
    if isinstance(x, keras.Variable):
        x = x.value
    return keras.ops.convert_to_numpy(x)


@contextlib.contextmanager
def variables_created_while_tracing():
    """On TensorFlow: the names of the variables created inside a traced `tf.function`, in a list
    filled while the `with` block runs. Such a variable makes `tf.function` trace the step again."""
    import tensorflow as tf

    names = []

    def record(next_creator, **kwargs):
        if tf.inside_function():
            names.append(kwargs.get("name"))
        return next_creator(**kwargs)

    with tf.variable_creator_scope(record):
        yield names


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """Every test starts from float32 and a fixed seed, whatever the previous one did."""
    keras.utils.set_random_seed(0)
    yield
    keras.config.set_dtype_policy("float32")
    # Without a full garbage collection (free_memory=False): with three frameworks imported a
    # worker holds about half a million Python objects, and collecting after every test cost
    # about 0.5 s of each one; Python's own collector still frees what the tests leave.
    keras.backend.clear_session(free_memory=False)


def pytest_report_header(config):
    return f"keras {keras.__version__}, backend: {keras.backend.backend()}"


# The two test tiers. The library's tests need only keras, numpy, scipy and pytest; these
# files test the course (notebooks, exercises, grader, datasets, figures, site, README) or
# the package build, and need the `course`, `grading` or `site` extras, kernels or minutes.
# They are marked `course`: `make check` and the oldest-Keras run pass -m "not course".
COURSE_TEST_FILES = frozenset(
    {
        "test_notebooks.py",
        "test_grading.py",
        "test_site.py",
        "test_packaging.py",
        "test_cli.py",
        "test_viz.py",
        "test_corpus.py",
        "test_sentiment.py",
        "test_data.py",
        "test_cifar10.py",
        "test_resident.py",
        "test_bench.py",
        "test_readme.py",
        "test_course_backends.py",
    }
)
COURSE_PACKAGE = Path(__file__).resolve().parent.parent / "keraskit" / "course"  # its doctests


def _deselects_course(config):
    return "not course" in (config.getoption("markexpr") or "")


def pytest_ignore_collect(collection_path, config):
    # Not even imported when deselected: they import matplotlib or nbformat at the top, which
    # the library-only environment (.venv-oldest) does not have.
    if collection_path.name in COURSE_TEST_FILES and _deselects_course(config):
        return True
    return None


# `make test` runs the suite once per backend. A test marked `once` does not depend on the backend
# (it runs a subprocess of its own, or NumPy-only notebooks), so it runs in one pass only: jax's.
ONCE_BACKEND = "jax"


def pytest_collection_modifyitems(config, items):
    backend = keras.backend.backend()
    for item in items:
        if item.path.name in COURSE_TEST_FILES or item.path.is_relative_to(COURSE_PACKAGE):
            item.add_marker(pytest.mark.course)
        once = item.get_closest_marker("once")
        if once and backend != ONCE_BACKEND:
            reason = once.args[0] if once.args else "does not depend on the backend"
            item.add_marker(
                pytest.mark.skip(reason=f"{reason}: once per make test, in the {ONCE_BACKEND} pass")
            )
