"""The `keraskit` command: help on any install, grading only with its extra and a backend."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keraskit.course import cli

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).parent / "keraskit"  # the console script pip installed
# The command does not depend on the backend of the test process: its subprocesses (a few
# seconds each) run once per `make test`.
once = pytest.mark.once("runs the command in a subprocess")


def run(args, tmp_path, *, backend=None, prelude=None):
    """Runs the console script (or, with `prelude`, `main` after it) in a subprocess.

    With `backend=None`, KERAS_BACKEND is removed and KERAS_HOME points to an empty
    folder, so neither the environment nor the user's keras.json picks a backend.
    """
    env = {key: value for key, value in os.environ.items() if key != "KERAS_BACKEND"}
    env["KERAS_HOME"] = str(tmp_path / "keras-home")
    if backend is not None:
        env["KERAS_BACKEND"] = backend
    if prelude is None:
        assert SCRIPT.exists(), f"no console script at {SCRIPT}: is keraskit installed (pip install -e .)?"
        command = [str(SCRIPT), *args]
    else:
        code = f"import sys\n{prelude}\nfrom keraskit.course.cli import main\nsys.exit(main({args!r}))"
        command = [sys.executable, "-c", code]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


@once
def test_help_works_with_no_backend_set(tmp_path):
    result = run(["--help"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage: keraskit" in result.stdout and "grade" in result.stdout


@once
def test_help_works_with_no_backend_set_and_tensorflow_not_installed(tmp_path):
    # Keras's default backend is TensorFlow: without it, and with nothing chosen, Keras
    # itself cannot be imported, so the command must not depend on that default.
    result = run(["--help"], tmp_path, prelude="sys.modules['tensorflow'] = None  # not installed")
    assert result.returncode == 0, result.stderr
    assert "usage: keraskit" in result.stdout


@once
def test_grade_help_lists_the_options(tmp_path):
    result = run(["grade", "--help"], tmp_path, backend="jax")
    assert result.returncode == 0, result.stderr
    for option in ("--json", "--csv", "--timeout", "--extra-tests"):
        assert option in result.stdout, result.stdout


@once
def test_no_command_is_a_usage_error(tmp_path):
    result = run([], tmp_path, backend="jax")
    assert result.returncode == 2
    assert "usage: keraskit" in result.stderr and "required: command" in result.stderr


@once
def test_grade_without_nbformat_names_the_extra_and_exits_2(tmp_path):
    notebook = ROOT / "exercises" / "03_attention.ipynb"
    prelude = "sys.modules['nbformat'] = None  # as if not installed"
    result = run(["grade", str(notebook)], tmp_path, backend="jax", prelude=prelude)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (
        "keraskit grade needs nbformat, which is not installed. "
        'Install the grader\'s dependencies with: pip install "keraskit[grading]"\n'
    )


@pytest.mark.parametrize("module", ["nbformat", "nbclient", "ipykernel"])
def test_each_missing_grading_dependency_is_named(module, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    assert cli.main(["grade", str(ROOT / "exercises" / "03_attention.ipynb")]) == 2
    error = capsys.readouterr().err
    assert f"keraskit grade needs {module}, which is not installed" in error
    assert 'pip install "keraskit[grading]"' in error


def test_no_backend_installed_is_named_too(monkeypatch, capsys):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    monkeypatch.setattr(cli, "default_backend", lambda: None)
    assert cli.main(["grade", str(ROOT / "exercises" / "03_attention.ipynb")]) == 2
    assert 'pip install "keraskit[jax]"' in capsys.readouterr().err
    assert "KERAS_BACKEND" not in os.environ


def test_the_backend_is_chosen_only_when_grading(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["grade", "--help"])
    assert exit_info.value.code == 0
    assert "KERAS_BACKEND" not in os.environ

    missing = tmp_path / "missing.ipynb"
    assert cli.main(["grade", str(missing)]) == 2
    assert f"keraskit grade: {missing} does not exist" in capsys.readouterr().err
    assert os.environ["KERAS_BACKEND"] == cli.default_backend() == "jax"  # jax is installed here


def test_grade_keeps_a_backend_that_was_set(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert cli.main(["grade", str(tmp_path / "missing.ipynb")]) == 2
    assert os.environ["KERAS_BACKEND"] == "torch"


def test_default_backend_prefers_jax_then_torch_then_tensorflow(monkeypatch):
    installed = set()
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: object() if name in installed else None)
    assert cli.default_backend() is None
    installed.add("tensorflow")
    assert cli.default_backend() == "tensorflow"
    installed.add("torch")
    assert cli.default_backend() == "torch"
    installed.add("jax")
    assert cli.default_backend() == "jax"


def test_a_missing_extra_tests_folder_is_an_error_that_names_the_option(tmp_path, capsys):
    notebook = ROOT / "exercises" / "03_attention.ipynb"
    folder = tmp_path / "hidden"
    assert cli.main(["grade", str(notebook), "--extra-tests", str(folder)]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"keraskit grade: --extra-tests {folder}: "), error
    assert "must be a folder" in error
