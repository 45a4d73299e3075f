"""The package as a user gets it: the built wheel, installed into a fresh venv with one backend.

The wheel comes from dist/ when `make build` left one newer than the sources (as
`make test` does), else it is built here. The venv is a plain one (no system site
packages): the wheel, Keras, NumPy and JAX, nothing else, so a course dependency
that the library imported by mistake would show up as an ImportError.
"""

import importlib.metadata
import importlib.util
import json
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest
import tomllib

import keraskit

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = keraskit.__version__

# Building and installing take a minute: once per `make test`.
pytestmark = pytest.mark.once("builds and installs the wheel")


def sources():
    """Everything a build reads; a dist/ older than any of them is stale."""
    files = [
        ROOT / name
        for name in ("pyproject.toml", "MANIFEST.in", "README.md", "LICENSE", "CHANGELOG.md", "CITATION.cff")
    ]
    return [path for path in files if path.exists()] + sorted((ROOT / "keraskit").rglob("*.py"))


def build(outdir):
    """`python -m build` of the sdist and the wheel into `outdir`; without isolation when this
    environment has a setuptools that can (faster, and no download)."""
    command = [sys.executable, "-m", "build", "--outdir", str(outdir), str(ROOT)]
    if importlib.util.find_spec("setuptools") is not None:
        major = int(importlib.metadata.version("setuptools").split(".")[0])
        if major >= 77:  # the build-system requirement in pyproject.toml
            command.insert(3, "--no-isolation")
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"python -m build failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The folder with keraskit-VERSION.tar.gz and keraskit-VERSION-py3-none-any.whl."""
    made = ROOT / "dist"
    wanted = [made / f"keraskit-{VERSION}.tar.gz", made / f"keraskit-{VERSION}-py3-none-any.whl"]
    newest_source = max(path.stat().st_mtime for path in sources())
    if all(path.exists() and path.stat().st_mtime >= newest_source for path in wanted):
        return made
    outdir = tmp_path_factory.mktemp("dist")
    build(outdir)
    return outdir


@pytest.fixture(scope="module")
def wheel(dist):
    return dist / f"keraskit-{VERSION}-py3-none-any.whl"


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory, wheel):
    """A plain venv with the wheel and the Keras, NumPy and JAX versions of this environment
    (pinned so that pip's cache serves them), and nothing else."""
    folder = tmp_path_factory.mktemp("venv")
    venv.create(folder, with_pip=True)  # no system site packages
    python = folder / "bin" / "python"
    pins = [f"{name}=={importlib.metadata.version(name)}" for name in ("keras", "numpy", "jax", "jaxlib")]
    result = subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel), *pins],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"pip install of the wheel failed:\n{result.stdout}\n{result.stderr}"
    return folder


def run_in(folder, *args, code=None, tmp_path):
    """Runs the venv's python (`code`) or one of its scripts (`args`), with no KERAS_BACKEND."""
    env = {"PATH": f"{folder / 'bin'}:/usr/bin:/bin", "HOME": str(tmp_path), "KERAS_HOME": str(tmp_path)}
    command = (
        [folder / "bin" / "python", "-c", code] if code is not None else [folder / "bin" / args[0], *args[1:]]
    )
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


# --- the version is written once ---------------------------------------------------------------


def test_the_version_is_written_once_in_keraskit_init():
    assert "version" not in PYPROJECT["project"], "pyproject.toml must not repeat the version"
    assert "version" in PYPROJECT["project"]["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "keraskit.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", VERSION), VERSION


def test_the_installed_metadata_has_the_version_of_the_code():
    # The editable install's metadata is rebuilt by `make` when pyproject.toml changes; a
    # mismatch means `pip install -e .` was not rerun after a version bump.
    assert importlib.metadata.version("keraskit") == VERSION


def test_the_citation_has_the_same_version():
    citation = (ROOT / "CITATION.cff").read_text()
    assert re.search(rf"^version: {re.escape(VERSION)}$", citation, flags=re.MULTILINE), citation


# --- what the distributions contain ------------------------------------------------------------


def test_the_wheel_holds_the_package_its_license_and_its_metadata(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"keraskit-{VERSION}.dist-info/METADATA").decode()
    assert {name.split("/")[0] for name in names} == {"keraskit", f"keraskit-{VERSION}.dist-info"}
    assert f"keraskit-{VERSION}.dist-info/licenses/LICENSE" in names
    assert "keraskit/course/cli.py" in names and "keraskit/layers/__init__.py" in names
    assert "License-Expression: Apache-2.0" in metadata
    assert f"Version: {VERSION}" in metadata
    assert "Requires-Dist: keras>=3.8" in metadata
    for extra in (
        "jax",
        "tensorflow",
        "tensorflow-cpu",
        "torch",
        "course",
        "grading",
        "site",
        "test",
        "bench",
        "dev",
    ):
        assert f"Provides-Extra: {extra}\n" in metadata, extra
    assert 'Requires-Dist: nbformat>=5.9; extra == "grading"' in metadata
    assert 'Requires-Dist: matplotlib>=3.8; extra == "course"' in metadata
    for label in ("Homepage", "Documentation", "Source", "Issues", "Changelog"):
        assert re.search(
            rf"^Project-URL: {label}, https://github\.com/keraskit/keraskit", metadata, flags=re.MULTILINE
        ), label


def test_the_sdist_leaves_out_what_cannot_run_from_it(dist):
    with tarfile.open(dist / f"keraskit-{VERSION}.tar.gz") as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for kept in (
        "LICENSE",
        "README.md",
        "CHANGELOG.md",
        "CITATION.cff",
        "pyproject.toml",
        "keraskit/__init__.py",
        "keraskit/course/cli.py",
    ):
        assert kept in names, kept
    left_out = ("tests/", "course/", "exercises/", "solutions/", "docs/", "bench/", "tools/")
    assert not [name for name in names if name.startswith(left_out)]


def test_the_classifiers_are_ones_pypi_accepts():
    from trove_classifiers import classifiers

    declared = PYPROJECT["project"]["classifiers"]
    assert declared and not set(declared) - classifiers, set(declared) - classifiers
    assert not [c for c in declared if c.startswith("License ::")], "PEP 639: the license is SPDX"


def test_the_build_raises_no_setuptools_warning(tmp_path):
    output = build(tmp_path)
    text = output.stdout + output.stderr
    assert "SetuptoolsDeprecationWarning" not in text and "is deprecated" not in text, text
    assert "no files found matching" not in text, text  # every file MANIFEST.in names exists


# --- the wheel in a fresh venv -----------------------------------------------------------------

LIBRARY_CHECK = """
import importlib.util, json, sys
import numpy as np
import keraskit
from keraskit import layers, models, training
import keras

model = models.vit(image_size=16, patch_size=4, num_classes=3, hidden_dim=16, num_layers=1,
                   num_heads=2, intermediate_dim=32)
images = np.random.default_rng(0).uniform(size=(2, 16, 16, 3)).astype("float32")
logits = keras.ops.convert_to_numpy(model(images))
model.save("tiny.keras")
reloaded = keras.models.load_model("tiny.keras")
difference = float(np.abs(keras.ops.convert_to_numpy(reloaded(images)) - logits).max())
print(json.dumps({
    "backend": keras.backend.backend(),
    "shape": list(logits.shape),
    "reload_difference": difference,
    "version": keraskit.__version__,
    "metadata_version": __import__("importlib.metadata").metadata.version("keraskit"),
    "imported": sorted(name for name in ("matplotlib", "nbformat", "nbclient", "keraskit.course")
                       if name in sys.modules),
    "installed": sorted(name for name in ("matplotlib", "nbformat", "nbclient", "ipykernel",
                                          "tensorflow", "torch") if importlib.util.find_spec(name)),
}))
"""


def test_the_library_works_from_the_wheel_alone(fresh_venv, tmp_path):
    result = run_in(fresh_venv, code=LIBRARY_CHECK, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    # No KERAS_BACKEND and no TensorFlow (Keras's default): keraskit falls back to JAX.
    assert report["backend"] == "jax"
    assert report["shape"] == [2, 3]
    assert report["reload_difference"] < 1e-6
    assert report["version"] == report["metadata_version"] == VERSION
    assert report["installed"] == [], "the fresh venv must hold no course dependency nor other backend"
    assert report["imported"] == []


def test_the_course_figures_name_the_extra_they_need(fresh_venv, tmp_path):
    result = run_in(fresh_venv, code="import keraskit.course.viz", tmp_path=tmp_path)
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    expected = "ImportError: keraskit.course.viz draws its figures with matplotlib, which is not installed"
    assert last_line.startswith(expected), last_line
    assert last_line.endswith('Install it with: pip install "keraskit[course]"'), last_line


def test_the_command_helps_and_names_the_grading_extra(fresh_venv, tmp_path):
    result = run_in(fresh_venv, "keraskit", "--help", tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "usage: keraskit" in result.stdout and "grade" in result.stdout

    notebook = tmp_path / "03_attention.ipynb"
    notebook.write_text("{}")
    result = run_in(fresh_venv, "keraskit", "grade", str(notebook), tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "keraskit grade needs nbformat, which is not installed. "
        'Install the grader\'s dependencies with: pip install "keraskit[grading]"\n'
    )
