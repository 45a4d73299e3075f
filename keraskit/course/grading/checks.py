"""Instant feedback in a notebook: `check.sinusoidal_encoding(sinusoidal_encoding)`."""

import numpy as np

from keraskit.course.grading.registry import default_registry
from keraskit.course.grading.tasks import run_cases


class Checks:
    """One method per graded task, named like the function the learner writes.

    Each call draws new random inputs, runs the learner's function on them,
    compares with the reference, and prints either "correct" or the first
    case that failed with the expected and received shape or values and a
    hint. It returns the `Result` too. `check` is the one built on
    `default_registry()`; an instructor can build one on a registry with hidden
    tasks added.

    Args:
        registry: the `Registry` whose tasks to check (default: `default_registry()`).

    Example:

    >>> import numpy as np
    >>> def causal_mask(length):
    ...     return np.tril(np.ones((length, length), bool))
    >>> result = check.causal_mask(causal_mask)
    causal_mask: correct (all 2 cases correct)
    >>> result.passed
    True
    """

    def __init__(self, registry=None):
        self.registry = default_registry() if registry is None else registry

    def __getattr__(self, name):
        if name.startswith("__") or name == "registry":  # copy and pickle probe these; no task has them
            raise AttributeError(name)
        try:
            task = self.registry.task(name)
        except KeyError as error:
            raise AttributeError(error.args[0]) from None

        def run(function, seed=None):
            cases = task.cases(np.random.default_rng(seed))
            result = task.grade_outputs(cases, run_cases(function, cases))
            verdict = "correct" if result.passed else "not yet"
            print(f"{name}: {verdict} ({result.message})")
            return result

        run.__doc__ = f"Checks your `{name}` function (lesson {task.lesson}, {task.points} points)."
        return run

    def __dir__(self):
        return self.registry.names()


check = Checks()
