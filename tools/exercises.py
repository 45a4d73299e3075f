"""Generate the student notebooks in exercises/ from solutions/ (one source of truth).

Between `### BEGIN SOLUTION` and `### END SOLUTION` (the nbgrader convention),
the reference code is replaced by `raise NotImplementedError(...)` at the same
indentation; outputs and execution counts are cleared.

    python tools/exercises.py generate   # write exercises/ (make exercises)
    python tools/exercises.py check      # exit 1 if exercises/ is out of date
"""

import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
REGION = re.compile(
    r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.DOTALL | re.MULTILINE
)
STUB = 'raise NotImplementedError("Write your code here, then run the check cell below.")'


def strip_solutions(source):
    """Replaces every solution region by a stub at the region's indentation."""
    if source.count("### BEGIN SOLUTION") != source.count("### END SOLUTION"):
        raise ValueError(f"Unbalanced solution markers in:\n{source}")
    return REGION.sub(lambda match: f"{match.group(1)}{STUB}", source)


def student_version(notebook):
    """A copy of a solution notebook with solutions stubbed and outputs cleared."""
    notebook = nbformat.from_dict(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = strip_solutions(cell.source)
            cell.outputs = []
            cell.execution_count = None
    return notebook


def expected_exercises():
    """exercises/ file name -> the text it should hold."""
    expected = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        notebook = student_version(nbformat.read(path, as_version=4))
        # The grader reads the lesson from here, so a submission renamed alice.ipynb is still graded.
        notebook.metadata["keraskit"] = {"lesson": path.name[:2]}
        expected[path.name] = nbformat.writes(notebook) + "\n"
    return expected


def stale_exercises():
    """Names of exercise notebooks that are missing, different or left over."""
    expected = expected_exercises()
    present = {path.name: path.read_text() for path in EXERCISES.glob("*.ipynb")}
    return sorted(name for name in set(expected) | set(present) if expected.get(name) != present.get(name))


def main(argv):
    command = argv[1] if len(argv) > 1 else "generate"
    if command == "generate":
        EXERCISES.mkdir(exist_ok=True)
        expected = expected_exercises()
        for path in EXERCISES.glob("*.ipynb"):
            if path.name not in expected:
                path.unlink()
        for name, text in expected.items():
            (EXERCISES / name).write_text(text)
        print(f"wrote {len(expected)} exercise notebooks to {EXERCISES.relative_to(ROOT)}/")
        return 0
    if command == "check":
        stale = stale_exercises()
        if stale:
            print(f"exercises/ is out of date with solutions/: {', '.join(stale)}. Run `make exercises`.")
            return 1
        print("exercises/ matches solutions/")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
