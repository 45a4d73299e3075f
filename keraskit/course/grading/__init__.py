"""keraskit.course.grading: instant checks for the exercises, and a grader for whole notebooks.

A learner checks one function at a time in the exercise notebook, e.g.
`check.sinusoidal_encoding(sinusoidal_encoding)`; an instructor grades whole
notebooks with `keraskit grade`, which runs each notebook in a sandbox
(`sandbox.py`, `runner.py`) and compares its outputs with the references outside
it (`grader.py`). The tasks of each lesson live in
`keraskit.course.grading.lessons.lesson_NN`; a `Registry` collects them
(`default_registry()`), and hidden tests add to a copy (`load_extra_tests`). The
notebook grader, `keraskit.course.grading.grader`, needs the `grading` extra
(nbformat, nbclient); this package itself needs only NumPy and Keras.
"""

from keraskit.course.grading.checks import Checks, check
from keraskit.course.grading.registry import LESSONS, Registry, default_registry, load_extra_tests
from keraskit.course.grading.tasks import Case, Result, Task

__all__ = [
    "LESSONS",
    "Case",
    "Checks",
    "Registry",
    "Result",
    "Task",
    "check",
    "default_registry",
    "load_extra_tests",
]
