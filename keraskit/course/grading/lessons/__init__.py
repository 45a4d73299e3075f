"""The graded tasks, one module per lesson, each listing its tasks in a `TASKS` tuple.

`keraskit.course.grading.registry.LESSONS` names these modules in lesson order;
importing one registers nothing anywhere.
"""
