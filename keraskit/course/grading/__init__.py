"""keraskit.course.grading: instant checks for the exercises, and a grader for whole notebooks.

    from keraskit.course.grading import check
    check.sinusoidal_encoding(sinusoidal_encoding)
"""

from keraskit.course.grading.check import check
from keraskit.course.grading.tasks import TASKS, Result, tasks_for

__all__ = ["TASKS", "Result", "check", "tasks_for"]
