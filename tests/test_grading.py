"""Exercises and grading: solutions score full marks, stubs score zero, and cheating or
broken notebooks get a correct, explained score without crashing or hanging the grader."""

import csv
import dataclasses
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest

from keraskit.course.grading import (
    LESSONS,
    Case,
    Checks,
    Registry,
    Task,
    check,
    default_registry,
    load_extra_tests,
)
from keraskit.course.grading.grader import grade_notebook
from keraskit.course.grading.lessons import lesson_03

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import exercises as exercise_tool  # noqa: E402

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
BACKEND = keras.backend.backend()
# The grader's own behaviour (timeouts, errors, hidden tests, attacks on the checks, the command
# line) does not depend on the backend: the notebooks of those tests (lesson 03's solution,
# variants of it, an untouched exercise) compute with NumPy, so they run once per `make test`.
# Every solution is still graded on every backend.
once = pytest.mark.once("the grader's mechanics, with NumPy-only notebooks")


def test_every_lesson_has_an_exercise_with_three_to_six_tasks():
    lessons = sorted(path.name for path in (ROOT / "course").glob("[0-9][0-9]_*.ipynb"))
    assert [path.name for path in SOLUTIONS] == lessons
    registry = default_registry()
    for path in SOLUTIONS:
        assert 3 <= len(registry.tasks_for(path.name[:2])) <= 6, path.name


def test_every_lesson_links_its_exercise_at_the_top_and_in_its_summary_and_back():
    for path in SOLUTIONS:
        lesson = nbformat.read(ROOT / "course" / path.name, as_version=4)
        markdown = [cell.source for cell in lesson.cells if cell.cell_type == "markdown"]
        link = f"(../exercises/{path.name})"
        assert link in markdown[0] and link in markdown[-1], path.name
        exercise = nbformat.read(ROOT / "exercises" / path.name, as_version=4)
        assert f"(../course/{path.name})" in exercise.cells[0].source, path.name


def test_exercises_are_generated_from_the_solutions():
    assert exercise_tool.stale_exercises() == [], "run `make exercises`"
    for path in (ROOT / "exercises").glob("*.ipynb"):
        text = path.read_text()
        assert "### BEGIN SOLUTION" not in text and "NotImplementedError" in text


def test_strip_solutions_keeps_the_signature_and_indentation():
    source = (
        'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n'
        "    ### END SOLUTION\n\nprint(f)"
    )
    stripped = exercise_tool.strip_solutions(source)
    assert stripped.startswith('def f(x):\n    """Doc."""\n    raise NotImplementedError(')
    assert "x + 1" not in stripped and stripped.endswith("\n\nprint(f)")
    with pytest.raises(ValueError, match="Unbalanced"):
        exercise_tool.strip_solutions("### BEGIN SOLUTION\nx = 1\n")


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda path: path.name)
def test_solution_scores_full_marks(path):
    report = grade_notebook(path, timeout=120, backend=BACKEND)
    assert report["score"] == report["max_score"] > 0, json.dumps(report, indent=1)
    assert all(task["passed"] for task in report["tasks"])


# An untouched exercise raises NotImplementedError before any backend code runs, so
# grading it three times proves nothing more: `make test` grades each exercise once,
# in the pass of one backend (every third notebook per backend).
BACKENDS = ("jax", "tensorflow", "torch")
EXERCISE_SHARE = SOLUTIONS[BACKENDS.index(BACKEND) :: 3] if BACKEND in BACKENDS else SOLUTIONS


@pytest.mark.parametrize("path", EXERCISE_SHARE, ids=lambda path: path.name)
def test_untouched_exercise_scores_zero_on_every_task(path):
    report = grade_notebook(ROOT / "exercises" / path.name, timeout=120, backend=BACKEND)
    assert report["max_score"] > 0 and report["score"] == 0
    for task in report["tasks"]:
        assert task["points"] == 0 and "not implemented yet" in task["message"], task


# --- instant feedback ------------------------------------------------------------------------


def test_check_says_correct_or_which_case_failed_and_why(capsys):
    def causal_mask(length):  # keras.ops: returns this backend's tensor
        return keras.ops.tril(keras.ops.ones((length, length), dtype="bool"))

    assert check.causal_mask(causal_mask).passed
    assert "causal_mask: correct" in capsys.readouterr().out

    def wrong_shape(length, dim):
        return np.zeros((length, dim + 1))

    result = check.sinusoidal_encoding(wrong_shape)
    out = capsys.readouterr().out
    assert not result.passed and "expected shape" in out and "received shape" in out and "Hint:" in out

    def nan_on_fully_masked_rows(q, k, v, mask=None):
        scores = np.einsum("bqd,bkd->bqk", q, k) / np.sqrt(q.shape[-1])
        if mask is not None:
            scores = np.where(mask, scores, -np.inf)
        with np.errstate(invalid="ignore"):  # -inf - -inf: the NaN this learner gets
            weights = np.exp(scores - scores.max(-1, keepdims=True))
        return (weights / weights.sum(-1, keepdims=True)) @ v

    result = check.scaled_dot_product_attention(nan_on_fully_masked_rows)
    assert not result.passed and "fully masked row" in result.message and "NaN" in result.message
    with pytest.raises(AttributeError, match="No graded task"):
        check.no_such_task  # noqa: B018


def test_every_task_has_a_hint_and_points():
    for task in default_registry():
        assert task.points > 0 and len(task.hint) > 20, task.name


# --- the registry: one module per lesson, collected explicitly ---------------------------------

# Every lesson's tasks and points, in grading order, as they were before the tasks moved
# into one module per lesson. A change here changes learners' grades: make it on purpose.
EXPECTED_TASKS = {
    "00": [("stable_softmax", 2), ("scaled_residual", 2), ("binary_cross_entropy", 2)],
    "01": [("cosine_similarity", 2), ("nearest_neighbours", 2), ("one_hot", 1), ("embedding_lookup", 1)],
    "02": [("sinusoidal_encoding", 3), ("sincos_2d_encoding", 2), ("position_similarity", 2)],
    "03": [("scaled_dot_product_attention", 4), ("causal_mask", 1), ("attention_weights", 2)],
    "04": [("split_heads", 2), ("merge_heads", 2), ("multi_head_attention", 3)],
    "05": [("layer_norm", 2), ("mlp", 2), ("pre_norm_residual", 2)],
    "06": [("masked_mean", 2), ("padding_mask", 1), ("attention_padding_mask", 2)],
    "07": [("teacher_forcing_inputs", 2), ("greedy_decode", 3), ("causal_padding_mask", 2)],
    "08": [("patchify", 3), ("unpatchify", 2), ("patch_counts", 1)],
    "09": [("encode_patches", 3), ("count_vit_parameters", 2), ("gap_pool", 1)],
    "10": [("hard_distillation_loss", 3), ("attention_rollout", 3), ("teacher_agreement", 1)],
    "11": [("warmup_cosine", 3), ("mfu", 1), ("vit_training_flops", 2)],
    "12": [
        ("keep_indices", 2),
        ("visible_tokens", 1),
        ("masked_reconstruction_loss", 2),
        ("resize_positions", 2),
    ],
}


def test_the_registry_lists_exactly_the_tasks_and_points_of_each_lesson():
    registry = default_registry()
    assert registry.lessons() == list(EXPECTED_TASKS)
    for lesson, expected in EXPECTED_TASKS.items():
        assert [(task.name, task.points) for task in registry.tasks_for(lesson)] == expected, lesson
    assert registry.names() == [name for tasks in EXPECTED_TASKS.values() for name, _ in tasks]


def test_each_lesson_module_holds_its_own_lessons_tasks_and_names_its_notebook():
    assert [module.LESSON for module in LESSONS] == list(EXPECTED_TASKS)
    for module in LESSONS:
        notebook = next(word for word in module.__doc__.split() if word.startswith("exercises/"))
        assert (ROOT / notebook.rstrip(".")).exists(), module.__name__
        assert Path(notebook).name.startswith(module.LESSON), module.__name__
        assert {task.lesson for task in module.TASKS} == {module.LESSON}, module.__name__


def test_importing_registers_nothing_and_registries_are_independent():
    first, second = default_registry(), default_registry()
    assert first is not second
    causal_mask = first.task("causal_mask")
    importlib.reload(lesson_03)  # importing a lesson again ...
    assert first.task("causal_mask") is causal_mask  # ... leaves the registries built before as they were
    assert len(first) == len(second) == len(default_registry()) == sum(map(len, EXPECTED_TASKS.values()))

    first.add_cases("causal_mask", lambda rng: [Case((64,), "length 64")])
    first.add_task(Task("03", "softmax_rows", 1, cases=lambda rng: [], reference=np.exp, hint="rows"))
    assert "softmax_rows" in first
    for other in (second, default_registry(), Registry.from_lessons(LESSONS)):
        assert "softmax_rows" not in other
        assert len(other.task("causal_mask").cases(np.random.default_rng(0))) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):  # a registry cannot change a lesson's task
        causal_mask.points = 5


@once
def test_importing_the_checks_needs_no_grader_dependencies():
    # nbformat and nbclient made unimportable: `check` still works, the grader names its extra.
    code = """
import sys
sys.modules["nbformat"] = sys.modules["nbclient"] = None
import numpy as np
from keraskit.course.grading import check
assert check.causal_mask(lambda n: np.tril(np.ones((n, n), bool))).passed
try:
    import keraskit.course.grading.grader
except ImportError as error:
    print("grader:", error)
"""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": BACKEND},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "causal_mask: correct" in result.stdout
    assert "grader:" in result.stdout and 'pip install "keraskit[grading]"' in result.stdout


def test_adding_a_task_under_a_taken_name_is_refused_unless_replacing():
    registry = default_registry()
    stricter = Task(
        "03",
        "causal_mask",
        2,
        cases=lambda rng: [Case((64,), "length 64")],
        reference=lambda n: np.tril(np.ones((n, n), bool)),
        hint="row t sees columns 0..t",
        exact=True,
    )
    with pytest.raises(ValueError, match="'causal_mask' exists already .*add_cases"):
        registry.add_task(stricter)
    registry.add_task(stricter, replace=True)
    assert [(task.name, task.points) for task in registry.tasks_for("03")] == [
        ("scaled_dot_product_attention", 4),
        ("causal_mask", 2),
        ("attention_weights", 2),
    ]
    with pytest.raises(KeyError, match="No graded task is called 'causal_masks'"):
        registry.add_cases("causal_masks", lambda rng: [])
    with pytest.raises(ValueError, match="lesson must be two digits.*received 3"):
        registry.tasks_for(3)


def test_added_cases_are_checked_so_a_function_right_only_on_the_visible_cases_fails(capsys):
    def causal_mask(length):  # right up to the lengths the visible cases draw (8), wrong after
        return np.tril(np.ones((length, length), bool)) if length <= 8 else np.ones((length, length), bool)

    assert check.causal_mask(causal_mask).passed
    registry = default_registry()
    registry.add_cases("causal_mask", lambda rng: [Case((64,), "length 64 (hidden)")])
    result = Checks(registry).causal_mask(causal_mask)
    assert not result.passed and result.points == 0 and result.max_points == 1
    assert result.message.startswith("length 64 (hidden): 2016 of 4096 values differ")


HIDDEN_03 = """
import numpy as np
from keraskit.course.grading import Case, Task


def register(registry):
    registry.add_cases("causal_mask", lambda rng: [Case((64,), "length 64 (hidden)")])
    registry.add_task(Task("03", "softmax_rows", 1,
                           cases=lambda rng: [Case((rng.normal(size=(3, 4)),), "3 rows")],
                           reference=lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
                           hint="softmax over the last axis"))
    registry.add_task(Task("03", "row_sums", 2, cases=lambda rng: [Case((np.ones((2, 3)),), "ones")],
                           reference=lambda x: x.sum(-1), hint="sum over the last axis"))
"""


def test_load_extra_tests_adds_to_a_copy_and_explains_files_it_cannot_use(tmp_path):
    (tmp_path / "more_03.py").write_text(HIDDEN_03)
    base = default_registry()
    registry = load_extra_tests(tmp_path, base)
    assert [task.name for task in registry.tasks_for("03")][-2:] == ["softmax_rows", "row_sums"]
    assert "softmax_rows" not in base and len(base) == sum(map(len, EXPECTED_TASKS.values()))

    old_style = tmp_path / "old" / "more_03.py"
    old_style.parent.mkdir()
    old_style.write_text("from keraskit.course.grading.tasks import Case, define\n")
    with pytest.raises(ImportError, match="removed keraskit.course.grading.tasks.define.*def register"):
        load_extra_tests(old_style.parent)
    old_style.write_text("x = 1\n")
    with pytest.raises(ValueError, match="defines no function register"):
        load_extra_tests(old_style.parent)
    old_style.write_text("def register(registry):\n    registry.add_cases('causal_masks', lambda rng: [])\n")
    with pytest.raises(ValueError, match="more_03.py: register.*KeyError.*No graded task is called"):
        load_extra_tests(old_style.parent)
    with pytest.raises(ValueError, match="extra_tests must be a folder.*missing"):
        load_extra_tests(tmp_path / "missing")


# --- robustness: each builds a variant of the attention solution -----------------------------


def variant(tmp_path, edit, name="03_attention.ipynb"):
    notebook = nbformat.read(ROOT / "solutions" / "03_attention.ipynb", as_version=4)
    edit(notebook.cells)
    path = tmp_path / name
    nbformat.write(notebook, path)
    return path


def code_cell(source):
    return nbformat.v4.new_code_cell(source)


def task_scores(report):
    return {task["name"]: task["points"] for task in report["tasks"]}


@once
def test_a_cell_that_raises_costs_only_what_it_breaks(tmp_path):
    def edit(cells):
        index = next(i for i, cell in enumerate(cells) if "def causal_mask" in cell.source)
        cells[index].source = "1 / 0\n" + cells[index].source

    path = variant(tmp_path, edit)
    before = path.read_bytes()
    report = grade_notebook(path, timeout=60, backend=BACKEND)
    scores = task_scores(report)
    assert scores["causal_mask"] == 0 and scores["scaled_dot_product_attention"] == 4
    message = next(t["message"] for t in report["tasks"] if t["name"] == "causal_mask")
    assert "no function named `causal_mask`" in message
    assert any("ZeroDivisionError" in error for error in report["errors"])
    assert path.read_bytes() == before  # the learner's file is never modified


@once
def test_endless_cells_and_endless_functions_time_out(tmp_path):
    def edit(cells):
        # NumPy only: importing keraskit (and TensorFlow) can take longer than 5 s on a busy machine.
        cells[1] = code_cell("import numpy as np")
        cells.insert(2, code_cell("while True:\n    pass"))
        index = next(i for i, cell in enumerate(cells) if "def attention_weights" in cell.source)
        cells[index] = code_cell("def attention_weights(q, k):\n    while True:\n        pass")

    report = grade_notebook(variant(tmp_path, edit), timeout=5, backend=BACKEND)
    scores = task_scores(report)
    expected = {"scaled_dot_product_attention": 4, "causal_mask": 1, "attention_weights": 0}
    assert scores == expected, json.dumps(report, indent=1)
    assert any("longer than 5" in error for error in report["errors"])
    message = next(t["message"] for t in report["tasks"] if t["name"] == "attention_weights")
    assert "did not finish within 5" in message


def test_a_file_that_is_not_a_notebook_scores_zero_with_a_reason(tmp_path):
    path = tmp_path / "03_attention.ipynb"
    path.write_text('{"cells": [ this is not json')
    report = grade_notebook(path, timeout=30, backend=BACKEND)
    assert report["score"] == 0 and report["max_score"] == 7
    assert "not a readable notebook" in report["errors"][0]
    assert all("could not be read" in task["message"] for task in report["tasks"])


@once
def test_redefining_or_patching_the_checks_earns_nothing(tmp_path):
    cheat = """
import keraskit.course.grading.tasks as tasks
from keraskit.course.grading import Result
tasks.Task.grade_outputs = lambda self, cases, outputs: Result(
    self.name, self.points, self.points, True, "ok")
class check:
    def __getattr__(self, name):
        return lambda f: print(name, ": correct")
check = check()
np.allclose = lambda *args, **kwargs: True
def causal_mask(length):
    return np.ones((length, length), bool)
def attention_weights(q, k):
    return np.zeros((q.shape[0], q.shape[1], k.shape[1]))
def scaled_dot_product_attention(q, k, v, mask=None):
    return np.zeros((q.shape[0], q.shape[1], v.shape[-1]))
"""

    def edit(cells):
        del cells[2:]
        cells.append(code_cell(cheat))
        cells.append(code_cell("check.causal_mask(causal_mask)"))

    report = grade_notebook(variant(tmp_path, edit), timeout=60, backend=BACKEND)
    assert report["score"] == 0, report


@once
def test_outputs_hard_coded_for_one_input_fail(tmp_path):
    rng = np.random.default_rng(0)
    q, k = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
    scores = q @ k.transpose(0, 2, 1) / 2
    answer = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    memorised = f"def attention_weights(q, k):\n    return np.array({answer.tolist()})"

    def edit(cells):
        index = next(i for i, cell in enumerate(cells) if "def attention_weights" in cell.source)
        cells[index] = code_cell(memorised)

    report = grade_notebook(variant(tmp_path, edit), timeout=60, backend=BACKEND)
    assert task_scores(report)["attention_weights"] == 0


@once
def test_hidden_tests_add_cases_and_tasks_and_never_leak_into_a_later_grading(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "more_03.py").write_text(HIDDEN_03)

    def edit(cells):  # causal_mask right on every visible case, wrong on the hidden one
        cells.append(
            code_cell(
                "_right_causal_mask = causal_mask\n"
                "def causal_mask(length):\n"
                "    return _right_causal_mask(length) if length <= 8 else np.ones((length, length), bool)\n"
                "def softmax_rows(x):\n"
                "    return np.exp(x) / np.exp(x).sum(-1, keepdims=True)\n"
            )
        )

    path = variant(tmp_path, edit)
    report = grade_notebook(path, timeout=60, extra_tests=hidden, backend=BACKEND)
    assert task_scores(report) == {
        "scaled_dot_product_attention": 4,
        "causal_mask": 0,
        "attention_weights": 2,
        "softmax_rows": 1,
        "row_sums": 0,
    }
    assert report["max_score"] == 7 + 1 + 2 and report["score"] == 7
    message = next(t["message"] for t in report["tasks"] if t["name"] == "causal_mask")
    assert message.startswith("length 64 (hidden)")

    later = grade_notebook(path, timeout=60, backend=BACKEND)  # the next grading, without them
    assert task_scores(later) == {"scaled_dot_product_attention": 4, "causal_mask": 1, "attention_weights": 2}
    assert later["max_score"] == later["score"] == 7


@once
def test_cli_grades_a_folder_into_a_csv_and_a_broken_file_never_stops_it(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "03_attention.ipynb").write_bytes((ROOT / "solutions" / "03_attention.ipynb").read_bytes())
    (folder / "03_broken.ipynb").write_text("not a notebook")
    (folder / "99_unknown.ipynb").write_bytes((ROOT / "solutions" / "03_attention.ipynb").read_bytes())
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keraskit.course.cli",
            "grade",
            str(folder),
            "--csv",
            str(tmp_path / "grades.csv"),
            "--timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_BACKEND": BACKEND},
    )
    # Exit status 1: two of the three could not be graded (unreadable; no lesson), yet all have a row.
    assert result.returncode == 1, result.stderr[-2000:]
    assert "total: 7 / 7" in result.stdout and "total: 0 / 7" in result.stdout
    assert "could not grade 2 of 3: 03_broken.ipynb, 99_unknown.ipynb" in result.stdout
    with open(tmp_path / "grades.csv") as file:
        rows = {row["notebook"]: row for row in csv.DictReader(file)}
    assert rows["03_attention.ipynb"]["score"] == "7" and rows["03_attention.ipynb"]["causal_mask"] == "1"
    broken = rows["03_broken.ipynb"]
    assert broken["score"] == "0" and "not a readable notebook" in broken["errors"]
    assert "No graded tasks" in rows["99_unknown.ipynb"]["errors"]


@once
def test_cli_json_for_one_notebook(tmp_path):
    out = tmp_path / "grade.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keraskit.course.cli",
            "grade",
            str(ROOT / "exercises" / "01_word_embeddings.ipynb"),
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "KERAS_BACKEND": BACKEND},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert set(report) >= {"notebook", "score", "max_score", "tasks"}
    assert report["score"] == 0 and report["max_score"] == 6
    assert set(report["tasks"][0]) == {"name", "points", "max_points", "passed", "message"}
