"""Exercises and grading: solutions score full marks, stubs score zero, and cheating or
broken notebooks get a correct, explained score without crashing or hanging the grader."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import nbformat
import numpy as np
import pytest

from keraskit.course.grading import TASKS, check, tasks_for
from keraskit.course.grading.grader import grade_notebook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import exercises as exercise_tool  # noqa: E402

SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
BACKEND = keras.backend.backend()


def test_every_lesson_from_01_has_an_exercise_with_three_to_six_tasks():
    lessons = sorted(path.name for path in (ROOT / "course").glob("[0-9][0-9]_*.ipynb"))[1:]
    assert [path.name for path in SOLUTIONS] == lessons
    for path in SOLUTIONS:
        assert 3 <= len(tasks_for(path.name[:2])) <= 6, path.name


def test_exercises_are_generated_from_the_solutions():
    assert exercise_tool.stale_exercises() == [], "run `make exercises`"
    for path in (ROOT / "exercises").glob("*.ipynb"):
        text = path.read_text()
        assert "### BEGIN SOLUTION" not in text and "NotImplementedError" in text


def test_strip_solutions_keeps_the_signature_and_indentation():
    source = ("def f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n"
              "    ### END SOLUTION\n\nprint(f)")
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
EXERCISE_SHARE = SOLUTIONS[BACKENDS.index(BACKEND)::3] if BACKEND in BACKENDS else SOLUTIONS


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
    for task in TASKS.values():
        assert task.points > 0 and len(task.hint) > 20, task.name


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


def test_endless_cells_and_endless_functions_time_out(tmp_path):
    def edit(cells):
        cells.insert(2, code_cell("while True:\n    pass"))
        index = next(i for i, cell in enumerate(cells) if "def attention_weights" in cell.source)
        cells[index] = code_cell("def attention_weights(q, k):\n    while True:\n        pass")
    report = grade_notebook(variant(tmp_path, edit), timeout=5, backend=BACKEND)
    scores = task_scores(report)
    assert scores == {"scaled_dot_product_attention": 4, "causal_mask": 1, "attention_weights": 0}
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


def test_extra_hidden_tests_are_added_to_the_score(tmp_path):
    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "more_03.py").write_text(
        "import numpy as np\n"
        "from keraskit.course.grading.tasks import Case, define\n"
        "define('03', 'causal_mask_large', 2, lambda rng: [Case((64,), 'length 64')],\n"
        "       lambda n: np.tril(np.ones((n, n), bool)), 'same rule, long sequence', exact=True)\n"
        "define('03', 'softmax_rows', 1, lambda rng: [Case((rng.normal(size=(3, 4)),), 'rows')],\n"
        "       lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True), 'softmax over the last axis')\n")
    try:
        def edit(cells):
            cells.append(code_cell("causal_mask_large = causal_mask"))
        report = grade_notebook(variant(tmp_path, edit), timeout=60, extra_tests=hidden, backend=BACKEND)
    finally:
        TASKS.pop("causal_mask_large", None)
        TASKS.pop("softmax_rows", None)
    scores = task_scores(report)
    assert report["max_score"] == 7 + 3
    assert scores["causal_mask_large"] == 2 and scores["softmax_rows"] == 0


def test_cli_grades_a_folder_into_a_csv_and_a_broken_file_never_stops_it(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    (folder / "03_attention.ipynb").write_bytes((ROOT / "solutions" / "03_attention.ipynb").read_bytes())
    (folder / "03_broken.ipynb").write_text("not a notebook")
    (folder / "99_unknown.ipynb").write_bytes((ROOT / "solutions" / "03_attention.ipynb").read_bytes())
    result = subprocess.run([sys.executable, "-m", "keraskit.course.cli", "grade", str(folder), "--csv",
                             str(tmp_path / "grades.csv"), "--timeout", "60"],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "KERAS_BACKEND": BACKEND})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "total: 7 / 7" in result.stdout and "total: 0 / 7" in result.stdout
    with open(tmp_path / "grades.csv") as file:
        rows = {row["notebook"]: row for row in csv.DictReader(file)}
    assert rows["03_attention.ipynb"]["score"] == "7" and rows["03_attention.ipynb"]["causal_mask"] == "1"
    broken = rows["03_broken.ipynb"]
    assert broken["score"] == "0" and "not a readable notebook" in broken["errors"]
    assert "No graded tasks" in rows["99_unknown.ipynb"]["errors"]


def test_cli_json_for_one_notebook(tmp_path):
    out = tmp_path / "grade.json"
    result = subprocess.run([sys.executable, "-m", "keraskit.course.cli", "grade",
                             str(ROOT / "exercises" / "01_word_embeddings.ipynb"), "--json", str(out)],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "KERAS_BACKEND": BACKEND})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert set(report) >= {"notebook", "score", "max_score", "tasks"}
    assert report["score"] == 0 and report["max_score"] == 6
    assert set(report["tasks"][0]) == {"name", "points", "max_points", "passed", "message"}
