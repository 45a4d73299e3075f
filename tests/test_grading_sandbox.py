"""`keraskit grade` against a hostile student: each attack of issue 17 is a notebook here, and earns
what an honest attempt would (nothing it did not solve), never hangs, never stops a batch, and
leaves no process or file behind. The notebooks are tiny (NumPy only) and the timeouts short;
each test starts one or two kernels."""

import csv
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from keraskit.course.grading import Case, Registry, Task

ROOT = Path(__file__).resolve().parent.parent
BACKEND = os.environ.get("KERAS_BACKEND", "jax")
# The sandbox does not depend on the backend (the notebooks here use NumPy only), so these tests
# run once per `make test`.
pytestmark = [pytest.mark.course, pytest.mark.once("the sandbox, with NumPy-only notebooks")]


def notebook(path, cells, lesson=None):
    """Writes a notebook of code cells; `lesson` goes into its metadata, as in the exercises."""
    import nbformat

    metadata = {"keraskit": {"lesson": lesson}} if lesson else {}
    book = nbformat.v4.new_notebook(metadata=metadata)
    book.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(book, path)
    return path


def running(marker):
    """Processes whose command line holds `marker`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace"):
                found.append(pid)
        except OSError:
            pass
    return found


def cli(*arguments, env=None, timeout=600):
    """Runs `keraskit grade`; prints how much memory the grader's own process peaked at."""
    wrapper = (
        "import sys\n"
        "from keraskit.course import cli\n"
        "from keraskit.course.grading import grader\n"
        "def rss(field):\n"
        "    line = next(l for l in open('/proc/self/status') if l.startswith(field))\n"
        "    return int(line.split()[1]) // 1024\n"
        "start = rss('VmRSS:')\n"
        "code = cli.main(sys.argv[1:])\n"
        "print(f'grader memory: {start} MiB at start, peak {rss(\"VmHWM:\")} MiB')\n"
        "sys.exit(code)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", wrapper, "grade", *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "KERAS_BACKEND": BACKEND, **(env or {})},
    )


# Each probe ends by raising, so the grader's notes record what the notebook could do.
PROBES = {
    "references": """
import pathlib, keraskit
found = []
try:
    from keraskit.course.grading.registry import default_registry
    for task in default_registry():  # the attack: the references as the learner's functions
        globals()[task.name] = task.reference
    found.append("registry")
except ImportError:
    pass
try:
    import keraskit.course.grading.lessons.lesson_08
    found.append("lessons")
except ImportError:
    pass
folder = pathlib.Path(keraskit.__file__).parent / "course" / "grading"
names = sorted(path.name for path in folder.iterdir())
raise RuntimeError(f"probe references: imported {found}, grading holds {names}")
""",
    "files": """
import os
raise RuntimeError(f"probe files: {[os.path.exists(path) for path in {paths!r}]}")
""",
    "grader": """
import os
seen = [open(f"/proc/{pid}/cmdline", "rb").read() for pid in os.listdir("/proc") if pid.isdigit()]
grader = any(b"grader memory" in line for line in seen)  # in the grader's command line
raise RuntimeError(f"probe grader: sees it {grader}")
""",
    "package": """
import keraskit
try:
    open(keraskit.__file__, "a").write("# patched")
    outcome = "written"
except OSError as error:
    outcome = type(error).__name__
raise RuntimeError(f"probe package: {outcome}")
""",
    "network": """
import socket
try:
    socket.create_connection(("1.1.1.1", 80), timeout=2)
    outcome = "connected"
except OSError as error:
    outcome = "unreachable"
raise RuntimeError(f"probe network: {outcome}")
""",
    "detached": """
import subprocess, sys
code = '''
import os, time
os.setsid()
for _ in range(400):
    for path in {targets!r}:
        try:
            open(path, "w").write("tampered")
        except OSError:
            pass
    time.sleep(0.05)
'''
subprocess.Popen([sys.executable, "-c", code, {marker!r}], start_new_session=True,
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
""",
    "output": "for _ in range(200):\n    print('x' * 1_000_000)",
    # The lesson's fixed cases answered from a table: right there, wrong on any drawn case.
    "lookup": """
import numpy as np
def patch_counts(image_size, patch_size, channels):
    table = {((224, 224), 16, 3): [196, 768], ((28, 28), 7, 1): [16, 49], ((32, 48), 8, 3): [24, 192]}
    return np.array(table.get((tuple(image_size), patch_size, channels), [0, 0]))
""",
}


def test_a_batch_of_attacks_grades_every_notebook_and_nothing_can_touch_the_reports(tmp_path):
    folder, out, scratch = tmp_path / "submissions", tmp_path / "out", tmp_path / "tmp"
    for path in (folder, out, scratch):
        path.mkdir()
    marker = f"keraskit-attack-{uuid.uuid4().hex}"
    grades, report = out / "grades.csv", out / "grades.json"
    targets = [str(grades), str(report), str(tmp_path / "tampered"), str(folder / "alice.ipynb")]
    private = [str(ROOT / "solutions"), str(ROOT / "tests"), str(folder), str(out)]
    cells = [
        probe.replace("{paths!r}", repr(private))
        .replace("{targets!r}", repr(targets))
        .replace("{marker!r}", repr(marker))
        for probe in PROBES.values()
    ]
    notebook(folder / "08_cheater.ipynb", cells)
    # The attack that stopped a batch: kill the process that runs the notebook, at once.
    notebook(folder / "03_killer.ipynb", ["import os, signal\nos.kill(os.getppid(), signal.SIGKILL)"])
    solution = json.loads((ROOT / "solutions" / "03_attention.ipynb").read_text())
    solution["metadata"]["keraskit"] = {"lesson": "03"}  # graded as lesson 03 whatever its name
    (folder / "alice.ipynb").write_text(json.dumps(solution))

    result = cli(
        folder,
        "--csv",
        grades,
        "--json",
        report,
        "--feedback",
        out / "feedback",
        "--jobs",
        "2",
        "--seed",
        "0",
        "--timeout",
        "60",
        env={"TMPDIR": str(scratch)},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(grades) as file:
        rows = {row["notebook"]: row for row in csv.DictReader(file)}
    assert {name: (row["lesson"], row["score"], row["max_score"]) for name, row in rows.items()} == {
        "alice.ipynb": ("03", "7", "7"),
        "03_killer.ipynb": ("03", "0", "7"),
        "08_cheater.ipynb": ("08", "0", "6"),
    }
    reports = {Path(entry["notebook"]).name: entry for entry in json.loads(report.read_text())}
    notes = " | ".join(reports["08_cheater.ipynb"]["errors"])
    assert "probe references: imported [], grading holds ['__init__.py', 'runner.py']" in notes
    assert "probe files: [False, False, False, False]" in notes
    assert "probe grader: sees it False" in notes, notes
    assert "probe package: OSError" in notes
    assert "probe network: unreachable" in notes
    assert "printed more than" in notes
    messages = {task["name"]: task["message"] for task in reports["08_cheater.ipynb"]["tasks"]}
    assert messages["patch_counts"].startswith("a random image size and patch size:"), messages
    assert "did not report back" in reports["03_killer.ipynb"]["tasks"][0]["message"]
    assert {entry["seed"] for entry in reports.values()} == {0}
    assert (out / "feedback" / "alice.md").read_text().startswith("# Feedback on alice.ipynb: 7 / 7")

    # The grader's memory does not grow with what the notebook prints (200 MB here).
    start, peak = map(
        int, re.search(r"grader memory: (\d+) MiB at start, peak (\d+) MiB", result.stdout).groups()
    )
    assert peak - start < 150, result.stdout[-500:]
    # Nothing the notebooks started is left, nothing can change the reports, no scratch is left.
    before = grades.read_bytes(), report.read_bytes()
    time.sleep(2)
    assert running(marker) == []
    assert (grades.read_bytes(), report.read_bytes()) == before
    assert not (tmp_path / "tampered").exists()
    assert list(scratch.iterdir()) == []


def add_one_task(name):
    return Task(
        "99",
        name,
        1,
        cases=lambda rng: [
            Case((rng.normal(size=3),), "three values"),
            Case((rng.normal(size=2),), "two values"),
        ],
        reference=lambda x: x + 1,
        hint="add one to every value",
    )


HANGS_AND_BAD_RESULTS = [
    "import time\nimport numpy as np",
    # A top-level loop that swallows the interrupt: killed, and the notebook re-run without it.
    "while True:\n    try:\n        time.sleep(0.1)\n    except KeyboardInterrupt:\n        pass",
    """
def exits(x):  # the kernel dies: this task scores zero, the next ones are still graded
    import os
    os._exit(1)
def add_one(x):
    return x + 1
def stubborn(x):  # the same loop inside a graded function
    while True:
        try:
            time.sleep(0.1)
        except BaseException:
            pass
def slow(x):  # 2 s a case: within a per-case limit of 3 s, beyond 3 s for the task
    time.sleep(2)
    return x + 1
late_calls = []
def late(x):  # catches the interrupt, then answers every case after its time is up: still too slow
    late_calls.append(x)
    if len(late_calls) == 1:
        try:
            time.sleep(60)
        except KeyboardInterrupt:
            pass
    return x + 1
def returns_none(x):
    x + 1
def returns_complex(x):
    return x + 1 + 0j
def returns_structured(x):
    return np.zeros(len(x), dtype=[("a", "f4"), ("b", "f4")])
def returns_objects(x):
    return {"answer": x + 1}
def returns_nan(x):
    return x * np.nan
def undefined_inside(x):  # a NameError inside the function is not "no function named ..."
    return x + one
""",
]


def test_hangs_and_bad_results_cost_only_their_own_task_and_time_is_charged_per_task(tmp_path):
    from keraskit.course.grading.grader import grade_notebook

    names = [
        "exits",
        "add_one",
        "stubborn",
        "slow",
        "late",
        "returns_none",
        "returns_complex",
        "returns_structured",
        "returns_objects",
        "returns_nan",
        "undefined_inside",
    ]
    registry = Registry([add_one_task(name) for name in names])
    path = notebook(tmp_path / "bob.ipynb", HANGS_AND_BAD_RESULTS, lesson="99")
    started = time.monotonic()
    report = grade_notebook(path, timeout=3, registry=registry, seed=0, backend=BACKEND)
    elapsed = time.monotonic() - started
    messages = {task["name"]: task["message"] for task in report["tasks"]}
    assert {task["name"]: task["points"] for task in report["tasks"]} == {
        name: int(name == "add_one") for name in names
    }
    assert messages["exits"].startswith("the kernel died while running `exits`")
    assert "ignored the interrupt and was stopped" in messages["stubborn"]
    assert messages["slow"] == "`slow` did not finish within 3 s (an endless loop?)"
    assert messages["late"] == "`late` did not finish within 3 s (an endless loop?)"
    assert "returned None (a missing `return`?)" in messages["returns_none"]
    assert "received complex numbers" in messages["returns_complex"]
    assert "received a structured array (fields a, b)" in messages["returns_structured"]
    assert "your function returned dict" in messages["returns_objects"]
    assert "NaN or inf" in messages["returns_nan"]
    assert "your function raised NameError: name 'one' is not defined" in messages["undefined_inside"]
    assert report["errors"] == [
        "cell 1 ran longer than 3 s and ignored the interrupt, so it was killed; "
        "the notebook was run again without it"
    ]
    # Two hangs (3 s and a 3 s grace each, and a restart each) and one slow task: well under a minute.
    assert elapsed < 90, elapsed


def test_the_whole_notebook_has_a_time_limit_and_the_sandbox_can_be_skipped_knowingly(tmp_path):
    from keraskit.course.grading.grader import Limits, grade_notebook

    registry = Registry([add_one_task("add_one")])
    path = notebook(
        tmp_path / "carol.ipynb",
        ["import time\ntime.sleep(600)", "def add_one(x):\n    return x + 1"],
        lesson="99",
    )
    started = time.monotonic()
    report = grade_notebook(path, timeout=300, registry=registry, limits=Limits(seconds=10), backend=BACKEND)
    assert time.monotonic() - started < 40
    assert report["score"] == 0 and "used all of its 10 s" in report["errors"][-1]
    assert report["tasks"][0]["message"].startswith("not graded: the notebook used all of its 10 s")

    # A fork bomb meets the process limit (RLIMIT_NPROC; a pids cgroup when grading as root), and
    # 8 GiB meet the memory limit.
    bomb = """
import subprocess
started = []
try:
    for _ in range(300):
        started.append(subprocess.Popen(["sleep", "30"]))
except OSError:
    pass
for process in started:  # let them go, so the task below runs as it would without the bomb
    process.kill()
    process.wait()
raise RuntimeError(f"probe processes: started {len(started)}")
"""
    cells = [bomb, "memory = bytearray(8 * 2**30)", "def add_one(x):\n    return x + 1"]
    path = notebook(tmp_path / "erin.ipynb", cells, lesson="99")
    limits = Limits(processes=100, memory_gb=4)
    report = grade_notebook(path, timeout=60, registry=registry, limits=limits, backend=BACKEND)
    started = int(re.search(r"probe processes: started (\d+)", " ".join(report["errors"])).group(1))
    assert started < 100 and report["score"] == 1, json.dumps(report, indent=1)
    assert "cell 1 raised MemoryError" in report["errors"][1]

    honest = notebook(tmp_path / "dave.ipynb", ["def add_one(x):\n    return x + 1"], lesson="99")
    assert (
        grade_notebook(honest, timeout=60, registry=registry, use_sandbox=False, backend=BACKEND)["score"]
        == 1
    )


def test_exit_codes_say_whether_every_notebook_was_graded(tmp_path, monkeypatch, capsys):
    from keraskit.course import cli as command

    (tmp_path / "03_broken.ipynb").write_text("not a notebook")
    assert command.main(["grade", str(tmp_path / "missing")]) == 2
    assert command.main(["grade", str(tmp_path), "--jobs", "0"]) == 2
    assert command.main(["grade", str(tmp_path), "--csv", str(tmp_path / "grades.csv")]) == 1
    assert "could not grade 1 of 1: 03_broken.ipynb" in capsys.readouterr().out
    assert "not a readable notebook" in (tmp_path / "grades.csv").read_text()

    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap: refused, with how to install it
    assert command.main(["grade", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "apt-get install bubblewrap" in error and "--no-sandbox" in error
