"""The library stays a library: it imports only keras, numpy and the standard library,
never the course tooling, and no package reaches into another's private modules.

Read from the source (ast), not by importing, so a lazy import inside a function counts too.
"""

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "keraskit"
COURSE = PACKAGE / "course"
LIBRARY_FILES = sorted(path for path in PACKAGE.rglob("*.py") if COURSE not in path.parents)
ALL_FILES = sorted(PACKAGE.rglob("*.py"))
# accelerator_name() asks the backend Keras already runs on for the device's name.
BACKEND_LOOKUP = {("training/flops.py", name) for name in ("jax", "torch", "tensorflow")}
# A Hugging Face pytorch_model.bin is a pickle of PyTorch tensors: only PyTorch reads it, inside the
# one function that does, with an error naming the install when it is missing (tests/test_pretrained.py).
BACKEND_LOOKUP |= {("models/pretrained/huggingface.py", "torch")}


def imports(path, root=PACKAGE):
    """(module imported, line) for every import in a file, relative imports resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # from . import x: resolve against the file's package
                parts = path.relative_to(root.parent).with_suffix("").parts[: -node.level]
                module = ".".join([*parts, module] if module else parts)
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def test_the_scan_sees_every_library_module():
    names = {path.relative_to(PACKAGE).as_posix() for path in LIBRARY_FILES}
    assert {
        "layers/attention.py",
        "models/vision_transformer.py",
        "training/recipe.py",
        "validation.py",
    } <= names
    assert not any(name.startswith("course/") for name in names)


def check_library_file(path, root=PACKAGE):
    relative = path.relative_to(root).as_posix()
    allowed = set(sys.stdlib_module_names) | {"keras", "numpy", "keraskit"}
    for module, line in imports(path, root):
        top = module.split(".")[0]
        assert not module.startswith("keraskit.course"), (
            f"{relative}:{line} imports {module}: the library never imports the course tooling"
        )
        assert top in allowed or (relative, top) in BACKEND_LOOKUP, (
            f"{relative}:{line} imports {module}: the library imports only keras and numpy"
        )


def check_private_imports(path, root=PACKAGE):
    own_package = ".".join(("keraskit", *path.relative_to(root).parent.parts))
    for module, line in imports(path, root):
        parts = module.split(".")
        if parts[0] != "keraskit":
            continue
        for depth, part in enumerate(parts[1:], start=1):
            if part.startswith("_") and not part.startswith("__"):
                owner = ".".join(parts[:depth])
                assert owner == own_package, (
                    f"{path.relative_to(root)}:{line} imports the private {module} of {owner}"
                )


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda path: path.relative_to(PACKAGE).as_posix())
def test_library_imports_only_keras_numpy_and_the_standard_library(path):
    check_library_file(path)


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda path: path.relative_to(PACKAGE).as_posix())
def test_no_private_module_is_imported_from_another_package(path):
    check_private_imports(path)


@pytest.mark.parametrize(
    "line, message",
    [
        ("from keraskit.course import viz", "never imports the course tooling"),
        ("import matplotlib.pyplot as plt", "imports only keras and numpy"),
        ("from ..models import _hidden", "imports the private keraskit.models._hidden of keraskit.models"),
    ],
)
def test_the_checks_catch_a_bad_import(tmp_path, line, message):
    """The scan is not vacuous: a library file with a forbidden import is caught."""
    root = tmp_path / "keraskit"
    probe = root / "layers" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(f"import numpy\n{line}\n")
    with pytest.raises(AssertionError, match=message):
        check_library_file(probe, root)
        check_private_imports(probe, root)
