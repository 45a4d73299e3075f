"""The course notebooks: stored outputs are current, and every lesson runs on this backend."""

import ast
import sys
from pathlib import Path

import keras
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import notebooks as harness  # noqa: E402

LESSONS = harness.lessons()


def test_the_course_has_lessons_in_order():
    numbers = [int(path.name[:2]) for path in LESSONS]
    assert numbers and numbers == list(range(len(numbers))), [p.name for p in LESSONS]


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_stored_outputs_match_the_code(path):
    reason = harness.stale_reason(path)
    assert reason is None, f"{path.name}: stale outputs: {reason}. Run `make notebooks`."


def test_stored_outputs_say_which_backend_made_them():
    # The runtime marker and the metadata name the backend the setup cell printed.
    for path in LESSONS:
        notebook = harness.nbformat.read(path, as_version=4)
        printed = harness.backend_used(notebook)
        assert notebook.metadata[harness.METADATA_KEY]["backend"] == printed, path.name
        assert f"with the {printed} backend" in notebook.cells[0].source, path.name


@pytest.mark.parametrize("path", LESSONS, ids=lambda path: path.name)
def test_lesson_runs_in_smoke_mode(path):
    """Every cell runs without error, in a fresh kernel, with KERASKIT_SMOKE=1."""
    harness.execute(path, backend=keras.backend.backend(), smoke=True, timeout=300)


def test_time_runs_a_notebook_and_leaves_its_file_alone(tmp_path, capsys):
    # `tools/notebooks.py time` answers "how long on another backend?" without storing outputs.
    notebook = harness.nbformat.v4.new_notebook()
    setup = 'import keras\nprint(f"Keras {keras.__version__} on {keras.backend.backend()}; smoke: False")'
    notebook.cells = [harness.nbformat.v4.new_code_cell(setup)]
    path = tmp_path / "00_tiny.ipynb"
    harness.nbformat.write(notebook, path)
    before = path.read_bytes()
    copies = tmp_path / "executed"
    # In the order the docs write it: options first, then the notebooks.
    assert harness.main(["time", "--backend", keras.backend.backend(), "--save", str(copies), str(path)]) == 0
    printed = capsys.readouterr().out
    assert "00_tiny.ipynb: " in printed and f"s at full size on {keras.backend.backend()}" in printed
    assert path.read_bytes() == before
    executed = harness.nbformat.read(copies / path.name, as_version=4)
    assert harness.backend_used(executed) == keras.backend.backend()


@pytest.mark.once("the harness's environment, with a notebook that only prints it")
def test_time_smoke_runs_what_the_tests_run(tmp_path, capsys, monkeypatch):
    # `time --smoke` measures the course's 60-second limit: the notebook must see KERASKIT_SMOKE=1,
    # and XLA's quick-compilation flag added to the caller's flags.
    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_use_onednn=false")
    notebook = harness.nbformat.v4.new_notebook()
    printer = 'import os\nprint("smoke:", os.environ.get("KERASKIT_SMOKE"), os.environ.get("XLA_FLAGS"))'
    notebook.cells = [harness.nbformat.v4.new_code_cell(printer)]
    path = tmp_path / "00_tiny.ipynb"
    harness.nbformat.write(notebook, path)
    copies = tmp_path / "executed"
    assert harness.main(["time", "--smoke", "--backend", "jax", "--save", str(copies), str(path)]) == 0
    assert "s at smoke size on jax" in capsys.readouterr().out
    executed = harness.nbformat.read(copies / path.name, as_version=4)
    assert (
        executed.cells[0].outputs[0]["text"]
        == "smoke: 1 --xla_cpu_use_onednn=false --xla_backend_optimization_level=0\n"
    )
    # Without --smoke: the full-size run, even when the caller's environment sets KERASKIT_SMOKE,
    # and the caller's XLA flags as they were.
    monkeypatch.setenv("KERASKIT_SMOKE", "1")
    monkeypatch.delenv("XLA_FLAGS")
    assert harness.main(["time", "--backend", "jax", "--save", str(copies), str(path)]) == 0
    assert "s at full size on jax" in capsys.readouterr().out
    executed = harness.nbformat.read(copies / path.name, as_version=4)
    assert executed.cells[0].outputs[0]["text"] == "smoke: None None\n"


def test_smoke_xla_flag_leaves_a_level_already_set_alone():
    assert harness.with_smoke_xla_flag("") == "--xla_backend_optimization_level=0"
    for flags in (
        "--xla_backend_optimization_level=0",
        "--xla_cpu_use_onednn=false --xla_backend_optimization_level=2",
    ):
        assert harness.with_smoke_xla_flag(flags) == flags  # tests/conftest.py's, or the caller's choice


def test_recorded_runs_a_lesson_quotes_are_the_tools_own():
    # Lesson 09's section 8 prints full-plan accuracies it could not afford to train itself
    # (over 20 minutes); each must be one tools/vit_plans.py lists with its command.
    notebook = harness.nbformat.read(harness.COURSE / "09_vision_transformer.ipynb", as_version=4)
    (cell,) = [c for c in notebook.cells if c.cell_type == "code" and "FULL_PLAN = {" in c.source]
    (assignment,) = [
        node
        for node in ast.parse(cell.source).body
        if isinstance(node, ast.Assign) and ast.unparse(node.targets[0]) == "FULL_PLAN"
    ]
    runs = ast.literal_eval(assignment.value)
    tool = (harness.ROOT / "tools" / "vit_plans.py").read_text()
    for variant, accuracies in runs.items():
        assert len(accuracies) == 2, variant  # seeds 0 and 1
        for accuracy in accuracies:
            assert f"{accuracy:.4f}" in tool, (variant, accuracy)
