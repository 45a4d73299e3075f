"""The graded tasks of every lesson, collected explicitly, and what hidden tests add to them.

A `Registry` is an ordinary object: `default_registry()` builds a new one from
the lesson modules named in `LESSONS`, and nothing is registered by importing
anything. An instructor's hidden tests change a copy (`load_extra_tests`), so
they never leak into another grading.
"""

import dataclasses
import importlib.util
from pathlib import Path

from keraskit.course.grading.lessons import (
    lesson_00,
    lesson_01,
    lesson_02,
    lesson_03,
    lesson_04,
    lesson_05,
    lesson_06,
    lesson_07,
    lesson_08,
    lesson_09,
    lesson_10,
    lesson_11,
    lesson_12,
)
from keraskit.course.grading.tasks import Task

# The lesson modules in lesson order; a new lesson's tasks are graded once it is listed here.
LESSONS = (
    lesson_00,
    lesson_01,
    lesson_02,
    lesson_03,
    lesson_04,
    lesson_05,
    lesson_06,
    lesson_07,
    lesson_08,
    lesson_09,
    lesson_10,
    lesson_11,
    lesson_12,
)


class Registry:
    """The graded tasks, by name, in lesson order: what `check` and the grader look up.

    Build one with `default_registry()` (every lesson) or `Registry.from_lessons`;
    each is independent, so adding to one changes no other. Hidden tests add
    tasks with `add_task` and extra cases to a visible task with `add_cases`.

    Args:
        tasks: the `Task`s to start with, in order; names must be unique.

    Example:

    >>> import numpy as np
    >>> from keraskit.course.grading.tasks import Case, Task
    >>> registry = default_registry()
    >>> [task.name for task in registry.tasks_for("03")]
    ['scaled_dot_product_attention', 'causal_mask', 'attention_weights']
    >>> registry.add_cases("causal_mask", lambda rng: [Case((64,), "length 64")])
    >>> len(registry.task("causal_mask").cases(np.random.default_rng(0)))
    3
    >>> len(default_registry().task("causal_mask").cases(np.random.default_rng(0)))
    2
    """

    def __init__(self, tasks=()):
        self._tasks = {}
        for task in tasks:
            self.add_task(task)

    @classmethod
    def from_lessons(cls, lessons):
        """A registry of the tasks of `lessons`: modules (or objects) with a `TASKS` sequence.

        Args:
            lessons: the lesson modules, in order, e.g. `LESSONS[:3]`.

        Returns:
            A new `Registry`.

        Example:

        >>> from keraskit.course.grading.lessons import lesson_01, lesson_02
        >>> Registry.from_lessons([lesson_01, lesson_02]).lessons()
        ['01', '02']
        """
        return cls(task for lesson in lessons for task in lesson.TASKS)

    def add_task(self, task, replace=False):
        """Adds a task (e.g. a hidden one); it is graded with the other tasks of its lesson.

        Args:
            task: a `Task`.
            replace: `True` to replace a task of the same name (the new one takes its
                place in the order); by default a name already taken is an error, so a
                hidden task never replaces a visible one by accident.

        Example:

        >>> import numpy as np
        >>> from keraskit.course.grading.tasks import Case, Task
        >>> registry = default_registry()
        >>> registry.add_task(Task("03", "softmax_rows", 1,
        ...     cases=lambda rng: [Case((rng.normal(size=(3, 4)),), "3 rows")],
        ...     reference=lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True),
        ...     hint="softmax over the last axis"))
        >>> registry.tasks_for("03")[-1].name
        'softmax_rows'
        """
        if not isinstance(task, Task):
            raise TypeError(
                f"task must be a keraskit.course.grading.tasks.Task, received {type(task).__name__}: {task!r}"
            )
        if task.name in self._tasks and not replace:
            existing = self._tasks[task.name]
            raise ValueError(
                f"A task named {task.name!r} exists already (lesson {existing.lesson}). "
                "Use add_cases to grade it on more cases, or add_task(task, replace=True) "
                "to replace it."
            )
        self._tasks[task.name] = task

    def add_cases(self, name, cases):
        """Grades the task `name` on more cases: its own, then those `cases(rng)` draws.

        The task keeps its points, reference, hint and tolerances; a function must now
        be right on the added cases too to earn them.

        Args:
            name: the name of a task in this registry, e.g. `"causal_mask"`.
            cases: a function `rng -> list of Case`, like a task's own `cases`.

        Example:

        >>> import numpy as np
        >>> from keraskit.course.grading.tasks import Case
        >>> registry = default_registry()
        >>> registry.add_cases("causal_mask", lambda rng: [Case((64,), "length 64")])
        >>> [case.description for case in registry.task("causal_mask").cases(np.random.default_rng(0))]
        ['a random length', 'length 1', 'length 64']
        """
        if not callable(cases):
            raise TypeError(
                f"cases must be a function rng -> list of Case, received {type(cases).__name__}: {cases!r}"
            )
        task = self.task(name)
        own = task.cases

        def combined(rng):  # the visible cases first, so they draw the same inputs as before
            return [*own(rng), *cases(rng)]

        self._tasks[name] = dataclasses.replace(task, cases=combined)

    def task(self, name):
        """The task called `name`.

        Raises:
            KeyError: no task has that name; the message lists the names there are.

        Example:

        >>> default_registry().task("mfu").points
        1
        """
        if name not in self._tasks:
            raise KeyError(f"No graded task is called {name!r}. Tasks: {', '.join(self._tasks)}")
        return self._tasks[name]

    def tasks_for(self, lesson):
        """The tasks of one lesson, in order.

        Args:
            lesson: the lesson number as two digits, e.g. `"02"`.

        Example:

        >>> [task.name for task in default_registry().tasks_for("02")]
        ['sinusoidal_encoding', 'sincos_2d_encoding', 'position_similarity']
        """
        if not (isinstance(lesson, str) and len(lesson) == 2 and lesson.isdigit()):
            raise ValueError(f"lesson must be two digits as a string, e.g. '03'; received {lesson!r}")
        return [task for task in self._tasks.values() if task.lesson == lesson]

    def names(self):
        """The names of all tasks, in order.

        Example:

        >>> default_registry().names()[:3]
        ['stable_softmax', 'scaled_residual', 'binary_cross_entropy']
        """
        return list(self._tasks)

    def lessons(self):
        """The lessons that have tasks, in order.

        Example:

        >>> default_registry().lessons()[-1]
        '12'
        """
        return sorted({task.lesson for task in self._tasks.values()})

    def copy(self):
        """A new registry with the same tasks; adding to either leaves the other as it was.

        Example:

        >>> registry = default_registry()
        >>> registry.copy().names() == registry.names()
        True
        """
        return Registry(self._tasks.values())

    def __iter__(self):
        return iter(self._tasks.values())

    def __len__(self):
        return len(self._tasks)

    def __contains__(self, name):
        return name in self._tasks

    def __repr__(self):
        return f"<Registry: {len(self)} tasks in lessons {', '.join(self.lessons())}>"


def default_registry():
    """A new registry of every lesson's tasks (`LESSONS`): what `check` and the grader use.

    Each call returns a new object, so what one grading adds is not in the next.

    Example:

    >>> registry = default_registry()
    >>> len(registry), registry.lessons()[:3]
    (41, ['00', '01', '02'])
    >>> registry is default_registry()
    False
    """
    return Registry.from_lessons(LESSONS)


def load_extra_tests(folder, registry=None):
    """Adds an instructor's hidden tests to a copy of `registry`: every `*.py` in `folder`.

    Each file defines `register(registry)`, which calls `registry.add_task(...)` to
    add a task and `registry.add_cases(name, cases)` to grade a visible task on more
    cases. Files run in name order, each as a new module (nothing stays imported).

    Args:
        folder: the folder of hidden tests.
        registry: the registry to start from (default: `default_registry()`); it is
            not changed.

    Returns:
        A new `Registry`: `registry`'s tasks with the hidden tests' additions.

    Example:

    >>> import pathlib, tempfile
    >>> import numpy as np
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "more_03.py").write_text(
    ...     "from keraskit.course.grading.tasks import Case\\n"
    ...     "def register(registry):\\n"
    ...     "    registry.add_cases('causal_mask', lambda rng: [Case((64,), 'length 64')])\\n")
    >>> registry = load_extra_tests(folder)
    >>> [case.description for case in registry.task("causal_mask").cases(np.random.default_rng(0))]
    ['a random length', 'length 1', 'length 64']
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(
            f"extra_tests must be a folder of hidden tests (*.py); received {str(folder)!r}, "
            "which is not a folder"
        )
    registry = (default_registry() if registry is None else registry).copy()
    for path in sorted(folder.glob("*.py")):
        spec = importlib.util.spec_from_file_location(f"keraskit_extra_{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except ImportError as error:
            if "define" not in str(error):
                raise
            raise ImportError(
                f"{path}: keraskit 0.2 removed keraskit.course.grading.tasks.define (it registered "
                "tasks globally). Write `def register(registry):` and call registry.add_task(Task(...)) "
                "or registry.add_cases(name, cases) in it."
            ) from error
        except Exception as error:  # name the file: a batch's log should say which test is broken
            raise ValueError(f"{path} failed to run: {type(error).__name__}: {error}") from error
        register = getattr(module, "register", None)
        if not callable(register):
            raise ValueError(
                f"{path} defines no function register(registry): a hidden test adds its tasks "
                "with `def register(registry): registry.add_task(...)` or "
                "`registry.add_cases(...)`."
            )
        try:
            register(registry)
        except Exception as error:
            raise ValueError(f"{path}: register(registry) raised {type(error).__name__}: {error}") from error
    return registry
