"""A graded task: the function a learner writes, inputs drawn fresh, a reference, a hint.

A task never shows its reference code. It calls the learner's function on
inputs drawn at grading time (so an answer hard-coded for one input fails),
compares each result with the reference within a tolerance, and explains the
first case that fails: which inputs, the expected and received shape or
values, and a hint.
"""

import dataclasses
from collections.abc import Callable

import numpy as np

TASKS = {}  # name -> Task, in the order they were defined


@dataclasses.dataclass
class Case:
    """One call of the learner's function: positional arguments and what they mean."""

    args: tuple
    description: str
    kwargs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Result:
    """The outcome of grading one task."""

    name: str
    points: float
    max_points: float
    passed: bool
    message: str


@dataclasses.dataclass
class Task:
    lesson: str
    name: str
    points: int
    cases: Callable  # rng -> list of Case
    reference: Callable  # the right answer for a Case's arguments
    hint: str
    rtol: float = 1e-4
    atol: float = 1e-5
    exact: bool = False  # integer outputs (indices, masks): must match exactly

    def grade_outputs(self, cases, outputs):
        """Compares outputs (one per case; an Exception where the call raised) with the reference."""
        for case, output in zip(cases, outputs, strict=True):
            problem = self._problem(case, output)
            if problem:
                hint = "" if isinstance(output, NotImplementedError) else f" Hint: {self.hint}"
                return Result(self.name, 0, self.points, False, f"{case.description}: {problem}{hint}")
        return Result(self.name, self.points, self.points, True,
                      f"all {len(cases)} cases correct")

    def _problem(self, case, output):
        if isinstance(output, NotImplementedError):
            return "not implemented yet (the function raises NotImplementedError)."
        if isinstance(output, BaseException):
            kind = getattr(output, "kind", type(output).__name__)  # errors from a kernel keep their name
            return f"your function raised {kind}: {output}."
        expected = np.asarray(self.reference(*case.args, **case.kwargs))
        try:
            received = np.asarray(output)
        except Exception:  # e.g. a ragged list
            return f"expected an array of shape {expected.shape}, received {type(output).__name__}."
        if received.shape != expected.shape:
            return f"expected shape {expected.shape}, received shape {received.shape}."
        if self.exact or expected.dtype == bool:
            wrong = np.argwhere(received != expected)
            if len(wrong):
                index = tuple(int(i) for i in wrong[0])
                return (f"{len(wrong)} of {expected.size} values differ; at index {index} "
                        f"expected {expected[index].item()!r}, received {received[index].item()!r}.")
            return None
        if not np.issubdtype(received.dtype, np.number) and received.dtype != bool:
            return f"expected numbers, received an array of {received.dtype}."
        received = received.astype("float64")
        if not np.isfinite(received).all() and np.isfinite(expected).all():
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(received))[0])
            return f"your output has NaN or inf (first at index {index})."
        close = np.isclose(received, expected, rtol=self.rtol, atol=self.atol)
        if not close.all():
            index = tuple(int(i) for i in np.argwhere(~close)[0])
            error = np.abs(received - expected).max()
            return (f"values differ (largest error {error:.3g}); at index {index} expected "
                    f"{expected[index]:.6g}, received {received[index]:.6g}.")
        return None


def define(lesson, name, points, cases, reference, hint, **tolerances):
    """Registers a task from its parts (what the lesson modules use)."""
    registered = Task(lesson, name, points, cases, reference, hint, **tolerances)
    TASKS[name] = registered
    return registered


def tasks_for(lesson):
    """The tasks of one lesson ("02"), in order."""
    return [registered for registered in TASKS.values() if registered.lesson == lesson]


def run_cases(function, cases):
    """Calls `function` on each case; returns outputs as NumPy arrays, or the exception raised."""
    from keras import ops

    outputs = []
    for case in cases:
        try:
            output = function(*case.args, **case.kwargs)
            outputs.append(ops.convert_to_numpy(output) if output is not None else None)
        except Exception as error:  # the learner's code: any error is feedback, not a crash
            outputs.append(error)
    return outputs
