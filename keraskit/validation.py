"""Input checks shared by the layers: each error names the argument, what was
expected and what was received, so a learner can fix the call without reading
the layer's source."""


def to_pair(value, name):
    """Return `(height, width)` from an int or a pair of ints.

    Raises a `ValueError` naming `name` when `value` is neither.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        pair = (value, value)
    else:
        try:
            pair = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            pair = ()
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(
            f"`{name}` must be a positive int or a pair of positive ints "
            f"(height, width). Received: {name}={value!r}"
        )
    return pair


def check_rank(shape, rank, name, layer, layout):
    """Raise a `ValueError` unless `shape` has `rank` dimensions."""
    if len(shape) != rank:
        raise ValueError(
            f"{layer} expects `{name}` of rank {rank} with layout {layout}. "
            f"Received `{name}` of shape {tuple(shape)} (rank {len(shape)})."
        )


def check_choice(value, choices, name):
    """Raise a `ValueError` unless `value` is one of `choices`."""
    if value not in choices:
        raise ValueError(
            f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}"
        )
