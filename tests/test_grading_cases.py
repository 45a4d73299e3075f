"""The grader's cases and comparisons, without kernels: fresh inputs for every task, mask cases a
wrong mask cannot pass, one message per kind of wrong result, reproducible seeds, the lesson from
the notebook's metadata, the feedback report, and what the sandbox mounts."""

import sys

import numpy as np
import pytest

from keraskit.course.grading import default_registry
from keraskit.course.grading.tasks import Returned

pytestmark = pytest.mark.course
SEEDS = range(1000)


def _arrays(cases):
    """Every argument of every case, flattened to arrays: what a lookup table would key on."""
    return [np.asarray(value) for case in cases for value in (*case.args, *case.kwargs.values())]


def _same(first, second):
    return len(first) == len(second) and all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, second, strict=True)
    )


def test_every_task_draws_its_inputs_when_grading_so_a_lookup_table_fails():
    for task in default_registry():
        draws = [_arrays(task.cases(np.random.default_rng(seed))) for seed in (1, 2)]
        assert not _same(*draws), f"{task.name} grades on the same inputs whatever the seed"


# The answers to the cases these tasks used to grade on, as a learner could copy them from a
# classmate: right on those inputs, zeros anywhere else.
LOOKUP_TABLES = {
    "patch_counts": [((224, 224), 16, 3), ((28, 28), 7, 1), ((32, 48), 8, 3)],
    "sincos_2d_encoding": [(3, 4, 8), (2, 2, 16)],
    "count_vit_parameters": [(768, 196, 768, 12, 3072, 1000), (49, 16, 64, 4, 128, 10)],
    "vit_training_flops": [(197, 768, 12, 3072), (17, 64, 4, 128)],
}


@pytest.mark.parametrize("name", LOOKUP_TABLES)
def test_a_lookup_table_of_the_fixed_cases_never_passes(name):
    task = default_registry().task(name)
    table = {repr(args): task.reference(*args) for args in LOOKUP_TABLES[name]}

    def lookup(*args):
        answer = table.get(repr(tuple(tuple(a) if isinstance(a, tuple) else a for a in args)))
        return np.zeros(2) if answer is None else answer

    for seed in range(20):
        cases = task.cases(np.random.default_rng(seed))
        result = task.grade_outputs(cases, [lookup(*case.args) for case in cases])
        assert not result.passed, (name, seed)
    fixed = [case for case in cases if repr(case.args) in table]
    assert len(fixed) == len(LOOKUP_TABLES[name])  # the table itself is right on the fixed cases
    assert all(np.array_equal(lookup(*case.args), task.reference(*case.args)) for case in fixed)


def _attention(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
        scores = np.where(mask.any(-1, keepdims=True), scores, 0.0)
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    return weights / weights.sum(-1, keepdims=True) @ v


def _transposed_mask(q, k, v, mask=None):  # a learner who reads the mask as [key, query]
    if mask is not None and mask.shape[-1] == mask.shape[-2]:
        mask = np.swapaxes(mask, -1, -2)
    return _attention(q, k, v, mask)


def _ignored_mask(q, k, v, mask=None):
    return _attention(q, k, v)


@pytest.mark.parametrize("wrong", [_transposed_mask, _ignored_mask], ids=lambda f: f.__name__)
def test_a_transposed_or_ignored_mask_fails_on_every_one_of_a_thousand_seeds(wrong):
    task = default_registry().task("scaled_dot_product_attention")
    for seed in SEEDS:
        cases = task.cases(np.random.default_rng(seed))
        assert task.grade_outputs(cases, [_attention(*c.args, **c.kwargs) for c in cases]).passed, seed
        result = task.grade_outputs(cases, [wrong(*c.args, **c.kwargs) for c in cases])
        assert not result.passed, f"seed {seed}: {wrong.__name__} passed"
        assert "mask" in result.message.split(":")[0], result.message  # caught by a masked case


def _one_case_task():
    from keraskit.course.grading import Case, Task

    return Task(
        "99",
        "add_one",
        1,
        cases=lambda rng: [Case((np.arange(3.0),), "three values")],
        reference=lambda x: x + 1,
        hint="add one",
    )


@pytest.mark.parametrize(
    ("output", "says"),
    [
        (Returned("NoneType"), "your function returned None (a missing `return`?)"),
        (None, "your function returned None"),
        (Returned("dict"), "your function returned dict"),
        (np.arange(3.0) + 1 + 1j, "expected real numbers, received complex numbers (complex128)"),
        (np.zeros(3, dtype=[("a", "f4"), ("b", "f4")]), "received a structured array (fields a, b)"),
        (np.array(["1", "2", "3"]), "expected numbers, received an array of <U1"),
        (np.array([1.0, np.nan, 3.0]), "your output has NaN or inf (first at index (1,))"),
        (np.zeros((3, 1)), "expected shape (3,), received shape (3, 1)"),
    ],
)
def test_each_kind_of_wrong_result_gets_its_own_message(output, says):
    task = _one_case_task()
    result = task.grade_outputs(task.cases(None), [output])
    assert not result.passed and result.points == 0 and says in result.message, result.message


def test_the_same_seed_draws_the_same_inputs_and_another_seed_others():
    from keraskit.course.grading.grader import draw_cases

    tasks = default_registry().tasks_for("03")
    first, again, other = (draw_cases(tasks, seed) for seed in (7, 7, 8))
    assert all(_same(_arrays(a), _arrays(b)) for (_, a), (_, b) in zip(first, again, strict=True))
    assert not all(_same(_arrays(a), _arrays(b)) for (_, a), (_, b) in zip(first, other, strict=True))


def test_the_lesson_comes_from_the_metadata_then_the_file_name():
    import nbformat

    from keraskit.course.grading.grader import lesson_of

    assert lesson_of("alice.ipynb", {"metadata": {"keraskit": {"lesson": "03"}}}) == "03"
    assert lesson_of("05_x.ipynb", {"metadata": {"keraskit": {"lesson": "03"}}}) == "03"
    assert lesson_of("05_x.ipynb", {"metadata": {}}) == "05"
    assert lesson_of("alice.ipynb", {"metadata": {"keraskit": {"lesson": "three"}}}) is None
    from pathlib import Path

    for path in sorted((Path(__file__).parent.parent / "exercises").glob("*.ipynb")):
        assert lesson_of("renamed.ipynb", nbformat.read(path, as_version=4)) == path.name[:2], path.name


def test_the_feedback_report_lists_each_task_and_what_to_fix():
    from keraskit.course.grading.feedback import feedback_markdown

    report = {
        "notebook": "subs/alice.ipynb",
        "lesson": "03",
        "score": 4,
        "max_score": 7,
        "errors": ["cell 3 raised ZeroDivisionError: division by zero"],
        "tasks": [
            {
                "name": "scaled_dot_product_attention",
                "points": 4,
                "max_points": 4,
                "passed": True,
                "message": "all 4 cases correct",
            },
            {
                "name": "causal_mask",
                "points": 0,
                "max_points": 1,
                "passed": False,
                "message": "length 1: expected shape (1, 1), received shape (1,). Hint: True on and below",
            },
        ],
    }
    text = feedback_markdown(report)
    assert text.startswith("# Feedback on alice.ipynb: 4 / 7")
    assert "| `scaled_dot_product_attention` | 4 / 4 | correct |" in text
    assert "| `causal_mask` | 0 / 1 | not yet |" in text
    assert "## `causal_mask`\n\nlength 1: expected shape (1, 1)" in text
    assert "- cell 3 raised ZeroDivisionError" in text


def test_the_sandbox_mounts_the_environment_but_not_the_repository_or_the_references(tmp_path):
    from pathlib import Path

    import keraskit
    from keraskit.course.grading import sandbox

    if sandbox.bwrap_path() is None:  # the command needs the path of bwrap; the rest is plain data
        sandbox.bwrap_path = lambda: "/usr/bin/bwrap"
    arguments = sandbox.command(
        tmp_path / "work", sandbox.write_stub(tmp_path / "stub"), {"KERAS_BACKEND": "jax"}
    )
    package = Path(keraskit.__file__).resolve().parent
    root = package.parent
    mounted = [arguments[i + 1] for i, word in enumerate(arguments) if word in ("--bind", "--ro-bind")]
    targets = {arguments[i + 2]: arguments[i + 1] for i, word in enumerate(arguments) if word == "--ro-bind"}
    assert str(root) not in mounted and str(root / "solutions") not in mounted
    assert not any(
        Path(path) in (root / "solutions").parents or Path(path) == root / "tests" for path in mounted
    )
    assert targets[str(package / "course" / "grading")] == str(tmp_path / "stub")
    assert sorted(p.name for p in (tmp_path / "stub").iterdir()) == ["__init__.py", "runner.py"]
    for flag in ("--unshare-all", "--die-with-parent", "--clearenv", "--new-session"):
        assert flag in arguments
    assert arguments[arguments.index("--cap-drop") + 1] == "ALL"
    assert "/etc" not in mounted  # only the few files of /etc Python needs
    # The private /tmp comes before the environment and the package: mounted after them, it
    # would hide a checkout or a virtual environment that lives under /tmp.
    first_environment_bind = min(
        i
        for i, word in enumerate(arguments)
        if word == "--ro-bind" and arguments[i + 1] in (str(package), sys.prefix)
    )
    assert arguments.index("--tmpfs") < first_environment_bind


def test_outputs_left_as_links_or_fifos_are_refused_without_reading_them(tmp_path):
    import json
    import os

    from keraskit.course.grading.grader import _read_outputs

    folder = tmp_path / "task"
    folder.mkdir()
    np.save(tmp_path / "elsewhere.npy", np.ones(3))
    os.symlink(tmp_path / "elsewhere.npy", folder / "0.npy")  # the grader must not follow it
    os.mkfifo(folder / "1.npy")  # reading it would wait forever
    np.save(folder / "2.npy", np.ones(3))
    (folder / "report.json").write_text(json.dumps([None, None, None]))
    first, second, third = _read_outputs(folder, 3)
    assert "not a plain file" in str(first) and "not a plain file" in str(second)
    assert third.tolist() == [1.0, 1.0, 1.0]

    linked = tmp_path / "linked"
    os.symlink(folder, linked)  # a task's folder swapped for a link: nothing read through it
    assert _read_outputs(linked, 3) is None


def test_the_gradebook_is_on_disk_row_by_row_before_the_batch_ends(tmp_path):
    import csv

    from keraskit.course.cli import _Gradebook

    path = tmp_path / "grades.csv"
    gradebook = _Gradebook(path, ["causal_mask", "attention_weights"])
    report = {"notebook": "a/alice.ipynb", "lesson": "03", "score": 1, "max_score": 3, "errors": ["note"]}
    report["tasks"] = [{"name": "causal_mask", "points": 1}, {"name": "attention_weights", "points": 0}]
    gradebook.add(report)
    with open(path) as file:  # read while the batch is still running (not closed)
        rows = list(csv.DictReader(file))
    gradebook.close()
    assert rows == [
        {
            "notebook": "alice.ipynb",
            "lesson": "03",
            "score": "1",
            "max_score": "3",
            "causal_mask": "1",
            "attention_weights": "0",
            "errors": "note",
        }
    ]
