"""A graded task: the function a learner writes, inputs drawn fresh, a reference, a hint.

A task never shows its reference code. It calls the learner's function on
inputs drawn at grading time (so an answer hard-coded for one input fails),
compares each result with the reference within a tolerance, and explains the
first case that fails: which inputs, the expected and received shape or
values, and a hint.

Tasks are plain values: each lesson module lists its own in a `TASKS` tuple,
and `keraskit.course.grading.registry` collects them. Nothing registers itself
on import.
"""

import dataclasses
from collections.abc import Callable

import numpy as np


@dataclasses.dataclass
class Case:
    """One call of the learner's function: positional arguments and what they mean.

    Args:
        args: the positional arguments, a tuple (arrays, numbers, tuples of numbers).
        description: what the case tests, in a few words; the learner reads it when
            the case fails.
        kwargs: keyword arguments, a dict of arrays (e.g. `{"mask": mask}`).

    Example:

    >>> import numpy as np
    >>> case = Case((np.zeros((2, 3)), 4), "two rows, vocabulary of 4")
    >>> case.args[1], case.kwargs
    (4, {})
    """

    args: tuple
    description: str
    kwargs: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Result:
    """The outcome of grading one task.

    Args:
        name: the task, which is also the name of the learner's function.
        points: the points earned: all of `max_points` or none.
        max_points: the points the task is worth.
        passed: whether every case was correct.
        message: `"all N cases correct"`, or the first failing case and why.

    Example:

    >>> result = Result("causal_mask", 1, 1, True, "all 2 cases correct")
    >>> result.passed, result.points
    (True, 1)
    """

    name: str
    points: float
    max_points: float
    passed: bool
    message: str


@dataclasses.dataclass
class Returned:
    """Stands for a result that is not an array of numbers: what the function returned instead.

    Args:
        kind: the type's name, e.g. `"NoneType"` or `"dict"`.

    Example:

    >>> Returned("NoneType").kind
    'NoneType'
    """

    kind: str


def _kind_problem(received):
    """Why an array cannot be compared with numbers (complex, structured, text), or None."""
    if received.dtype.names:
        fields = ", ".join(received.dtype.names)
        return f"expected an array of numbers, received a structured array (fields {fields})."
    if np.issubdtype(received.dtype, np.complexfloating):
        return (
            f"expected real numbers, received complex numbers ({received.dtype}); "
            "the imaginary part is not dropped: return a real array."
        )
    if not (np.issubdtype(received.dtype, np.number) or received.dtype == bool):
        return f"expected numbers, received an array of {received.dtype}."
    return None


@dataclasses.dataclass(frozen=True)
class Task:
    """One graded function of an exercise: how to draw its inputs and what it must return.

    A task is frozen: a registry that changes a task (hidden cases added by an
    instructor) holds a changed copy, so the lesson modules' tasks stay as written.

    Args:
        lesson: the lesson number as two digits, e.g. `"03"` for `03_attention.ipynb`.
        name: the name of the function the learner writes, e.g. `"causal_mask"`.
        points: what the task is worth; all cases correct earns all of it, else zero.
        cases: a function `rng -> list of Case` (a `numpy.random.Generator`); inputs are
            drawn when grading, so an answer hard-coded for one input fails.
        reference: the right answer: called with a case's arguments, returns an array.
        hint: what the learner should check when a case fails.
        rtol: relative tolerance when comparing with the reference.
        atol: absolute tolerance when comparing with the reference.
        exact: `True` for integer or boolean outputs (indices, masks): must match exactly.

    Example:

    >>> import numpy as np
    >>> task = Task("03", "causal_mask", 1,
    ...             cases=lambda rng: [Case((3,), "length 3")],
    ...             reference=lambda length: np.tril(np.ones((length, length), bool)),
    ...             hint="True on and below the diagonal.", exact=True)
    >>> cases = task.cases(np.random.default_rng(0))
    >>> print(task.grade_outputs(cases, [np.ones((3, 3), bool)]).message)  # doctest: +ELLIPSIS
    length 3: 3 of 9 values differ; at index (0, 1) expected False, received True. Hint: True on ...
    >>> task.grade_outputs(cases, [np.tril(np.ones((3, 3), bool))]).passed
    True
    """

    lesson: str
    name: str
    points: int
    _: dataclasses.KW_ONLY
    cases: Callable  # rng -> list of Case
    reference: Callable  # the right answer for a Case's arguments
    hint: str
    rtol: float = 1e-4
    atol: float = 1e-5
    exact: bool = False  # integer outputs (indices, masks): must match exactly

    def grade_outputs(self, cases, outputs):
        """Compares outputs (one per case; an Exception where the call raised) with the reference.

        Args:
            cases: the cases the outputs were computed from, as `self.cases` drew them.
            outputs: one array per case, or the exception the learner's call raised.

        Returns:
            A `Result`: full points when every case is correct, else zero and the first
            failing case with what was expected, what was received and the hint.

        Example:

        >>> import numpy as np
        >>> task = Task("11", "mfu", 1, cases=lambda rng: [Case((1.0, 2.0, 4.0), "one")],
        ...             reference=lambda a, b, c: a * b / c, hint="images/s x FLOPs / peak.")
        >>> task.grade_outputs(task.cases(None), [NotImplementedError()]).message
        'one: not implemented yet (the function raises NotImplementedError).'
        """
        for case, output in zip(cases, outputs, strict=True):
            problem = self._problem(case, output)
            if problem:
                hint = "" if isinstance(output, NotImplementedError) else f" Hint: {self.hint}"
                return Result(self.name, 0, self.points, False, f"{case.description}: {problem}{hint}")
        return Result(self.name, self.points, self.points, True, f"all {len(cases)} cases correct")

    def _problem(self, case, output):
        if isinstance(output, NotImplementedError):
            return "not implemented yet (the function raises NotImplementedError)."
        if isinstance(output, BaseException):
            kind = getattr(output, "kind", type(output).__name__)  # errors from a kernel keep their name
            return f"your function raised {kind}: {output}."
        expected = np.asarray(self.reference(*case.args, **case.kwargs))
        if output is None or isinstance(output, Returned) and output.kind == "NoneType":
            shape = expected.shape
            return f"expected an array of shape {shape}, your function returned None (a missing `return`?)."
        if isinstance(output, Returned):
            return f"expected an array of shape {expected.shape}, your function returned {output.kind}."
        try:
            received = np.asarray(output)
        except Exception:  # e.g. a ragged list
            return f"expected an array of shape {expected.shape}, received {type(output).__name__}."
        if received.dtype.hasobject:
            return f"expected an array of shape {expected.shape}, received an array of Python objects."
        problem = _kind_problem(received)
        if problem:
            return problem
        if received.shape != expected.shape:
            return f"expected shape {expected.shape}, received shape {received.shape}."
        if self.exact or expected.dtype == bool:
            wrong = np.argwhere(received != expected)
            if len(wrong):
                index = tuple(int(i) for i in wrong[0])
                return (
                    f"{len(wrong)} of {expected.size} values differ; at index {index} "
                    f"expected {expected[index].item()!r}, received {received[index].item()!r}."
                )
            return None
        received = received.astype("float64")
        if not np.isfinite(received).all() and np.isfinite(expected).all():
            index = tuple(int(i) for i in np.argwhere(~np.isfinite(received))[0])
            return f"your output has NaN or inf (first at index {index})."
        close = np.isclose(received, expected, rtol=self.rtol, atol=self.atol)
        if not close.all():
            index = tuple(int(i) for i in np.argwhere(~close)[0])
            error = np.abs(received - expected).max()
            return (
                f"values differ (largest error {error:.3g}); at index {index} expected "
                f"{expected[index]:.6g}, received {received[index]:.6g}."
            )
        return None


def run_cases(function, cases):
    """Calls `function` on each case; returns outputs as NumPy arrays, or the exception raised.

    This is what `check` does in the learner's own kernel; the grader instead runs
    the calls in a separate kernel and compares in its own process.

    Args:
        function: the learner's function.
        cases: a list of `Case`.

    Returns:
        One entry per case: the output as a NumPy array (`None` if the function
        returned `None`), or the exception the call raised.

    Example:

    >>> outputs = run_cases(lambda x: [x, x], [Case((1,), "one"), Case(("a", 2), "too many")])
    >>> outputs[0].tolist(), type(outputs[1]).__name__
    ([1, 1], 'TypeError')
    """
    from keras import ops

    outputs = []
    for case in cases:
        try:
            output = function(*case.args, **case.kwargs)
            outputs.append(ops.convert_to_numpy(output) if output is not None else None)
        except Exception as error:  # the learner's code: any error is feedback, not a crash
            outputs.append(error)
    return outputs
