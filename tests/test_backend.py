"""keraskit picks a Keras backend only when Keras's own choice is not installed."""

import json
import os
import subprocess
import sys

import pytest

from keraskit import _backend


@pytest.fixture
def unchosen(tmp_path, monkeypatch):
    """No KERAS_BACKEND, an empty KERAS_HOME, and Keras not imported yet (as far as it can tell)."""
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delitem(sys.modules, "keras")
    return tmp_path


def write_keras_json(folder, content):
    (folder / "keras.json").write_text(content if isinstance(content, str) else json.dumps(content))


def test_keras_choice_follows_keras_order(unchosen, monkeypatch):
    assert _backend.keras_choice() == "tensorflow"  # no keras.json: Keras's default
    write_keras_json(unchosen, {"backend": "torch", "floatx": "float32"})
    assert _backend.keras_choice() == "torch"
    write_keras_json(unchosen, {"floatx": "float32"})
    assert _backend.keras_choice() == "tensorflow"
    write_keras_json(unchosen, "{not json")
    assert _backend.keras_choice() == "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert _backend.keras_choice() == "jax"


def test_an_uninstalled_choice_falls_back_to_the_first_installed_backend(unchosen):
    write_keras_json(unchosen, {"backend": "a_backend_that_is_not_installed"})
    assert _backend.use_an_installed_backend() == "jax"  # jax is installed wherever tests run
    assert os.environ["KERAS_BACKEND"] == "jax"


def test_an_installed_choice_is_left_to_keras(unchosen):
    write_keras_json(unchosen, {"backend": "numpy"})  # Keras's NumPy backend: installed with keras
    assert _backend.use_an_installed_backend() is None
    assert "KERAS_BACKEND" not in os.environ


def test_keras_backend_and_an_imported_keras_are_never_overridden(unchosen, monkeypatch):
    write_keras_json(unchosen, {"backend": "a_backend_that_is_not_installed"})
    monkeypatch.setenv("KERAS_BACKEND", "a_backend_that_is_not_installed")
    assert _backend.use_an_installed_backend() is None
    assert os.environ["KERAS_BACKEND"] == "a_backend_that_is_not_installed"
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.setitem(sys.modules, "keras", object())  # imported: its backend is fixed
    assert _backend.use_an_installed_backend() is None
    assert "KERAS_BACKEND" not in os.environ


def test_import_keraskit_works_without_tensorflow_and_with_no_backend_chosen(tmp_path):
    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path)  # no keras.json: Keras would pick TensorFlow
    code = (
        "import sys\n"
        "sys.modules['tensorflow'] = None  # as if not installed\n"
        "import keraskit, keras\n"
        "print(keras.backend.backend(), keraskit.layers.Patches.__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["jax", "Patches"]
