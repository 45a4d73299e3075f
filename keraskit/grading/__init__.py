"""keraskit.grading: instant checks for the exercises, and a grader for whole notebooks.

    from keraskit.grading import check
    check.sinusoidal_encoding(sinusoidal_encoding)
"""

from keraskit.grading.check import check
from keraskit.grading.tasks import TASKS, Result, tasks_for

__all__ = ["TASKS", "Result", "check", "tasks_for"]
