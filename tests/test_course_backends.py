"""keraskit.course.backends: a script under another backend, and its failures explained."""

import pytest

from keraskit.course.backends import BACKENDS, installed_backends, run_with_backend


def test_each_installed_backend_runs_the_script_under_its_own_name(tmp_path):
    (tmp_path / "helper_module.py").write_text("VALUE = 41\n")
    script = (
        "import sys, keras, helper_module\n"
        "print(keras.backend.backend(), helper_module.VALUE + int(sys.argv[1]))"
    )
    for backend in installed_backends():
        assert run_with_backend(backend, script, "1", folder=tmp_path) == f"{backend} 42"


def test_a_failing_script_raises_with_its_error_and_a_bad_backend_is_refused():
    with pytest.raises(RuntimeError, match=r"process failed:(.|\n)*ZeroDivisionError"):
        run_with_backend(installed_backends()[0], "1 / 0")
    with pytest.raises(ValueError, match="one of"):
        run_with_backend("numpy", "print(1)")
    assert set(installed_backends()) <= set(BACKENDS)
