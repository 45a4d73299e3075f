"""Argument checks shared by keraskit's layers and model builders.

Each error names the argument, the value received and what is allowed, so a
learner can fix the call without reading the layer's source. Builders check
every argument before building anything: a wrong call fails at once, with the
argument's name, instead of deep inside Keras with someone else's.
"""

import numbers

__all__ = [
    "check_bool",
    "check_choice",
    "check_positive_number",
    "check_transformer_arguments",
    "check_divides",
    "check_positive_int",
    "check_rank",
    "check_rate",
    "to_pair",
]


def check_positive_int(value, name, minimum=1):
    """Returns `value` as an int, or raises a `ValueError` unless it is a whole number >= `minimum`.

    Whole-valued floats (`64.0`) are accepted; `32.5`, `True`, `"64"` and `None` are not.

    Example:

    >>> check_positive_int(64, "hidden_dim")
    64
    >>> check_positive_int(0, "num_heads")
    Traceback (most recent call last):
    ...
    ValueError: `num_heads` must be an integer >= 1. Received: num_heads=0
    """
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or value != int(value) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}")
    return int(value)


def check_bool(value, name):
    """Returns `value`, or raises a `ValueError` unless it is exactly True or False.

    A flag given as a string or a number (`"yes"`, `1`) is refused rather than read
    by its truth value, so `"False"` cannot silently mean True.

    Example:

    >>> check_bool(True, "shifted")
    True
    >>> check_bool("no", "shifted")
    Traceback (most recent call last):
    ...
    ValueError: `shifted` must be True or False. Received: shifted='no'
    """
    if not isinstance(value, bool):
        raise ValueError(f"`{name}` must be True or False. Received: {name}={value!r}")
    return value


def check_positive_number(value, name):
    """Returns `value` as a float, or raises a `ValueError` unless it is a number > 0.

    Example:

    >>> check_positive_number(1e-6, "layer_norm_epsilon")
    1e-06
    >>> check_positive_number(0, "layer_norm_epsilon")
    Traceback (most recent call last):
    ...
    ValueError: `layer_norm_epsilon` must be > 0. Received: layer_norm_epsilon=0
    """
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or not value > 0:
        raise ValueError(f"`{name}` must be > 0. Received: {name}={value!r}")
    return float(value)


def check_transformer_arguments(
    *,
    hidden_dim,
    num_layers,
    num_heads,
    intermediate_dim,
    dropout,
    attention_dropout,
    layer_norm_epsilon=1e-6,
):
    """Checks the arguments every Transformer builder shares; returns them as clean ints and floats.

    `vit`, `text_classifier` and `seq2seq_transformer` call it before building
    anything, so each of them rejects a bad value with the same message.

    Example:

    >>> check_transformer_arguments(hidden_dim=64, num_layers=2, num_heads=4, intermediate_dim=128,
    ...                             dropout=0.1, attention_dropout=0.0)["num_heads"]
    4
    >>> check_transformer_arguments(hidden_dim=64, num_layers=2, num_heads=0, intermediate_dim=128,
    ...                             dropout=0.1, attention_dropout=0.0)
    Traceback (most recent call last):
    ...
    ValueError: `num_heads` must be an integer >= 1. Received: num_heads=0
    """
    checked = {
        name: check_positive_int(value, name)
        for name, value in (
            ("hidden_dim", hidden_dim),
            ("num_layers", num_layers),
            ("num_heads", num_heads),
            ("intermediate_dim", intermediate_dim),
        )
    }
    check_divides(checked["num_heads"], "num_heads", checked["hidden_dim"], "hidden_dim")
    checked["dropout"] = check_rate(dropout, "dropout")
    checked["attention_dropout"] = check_rate(attention_dropout, "attention_dropout")
    checked["layer_norm_epsilon"] = check_positive_number(layer_norm_epsilon, "layer_norm_epsilon")
    return checked


def check_rate(value, name):
    """Returns `value` as a float, or raises a `ValueError` unless it is in [0, 1).

    Example:

    >>> check_rate(0.1, "dropout")
    0.1
    >>> check_rate(1.0, "dropout")
    Traceback (most recent call last):
    ...
    ValueError: `dropout` must be a rate in [0, 1). Received: dropout=1.0
    """
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not is_number or not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be a rate in [0, 1). Received: {name}={value!r}")
    return float(value)


def check_divides(divisor, divisor_name, value, value_name):
    """Raises a `ValueError` unless `divisor` divides `value` (e.g. heads into the width).

    Example:

    >>> check_divides(4, "num_heads", 30, "hidden_dim")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `num_heads`=4 does not divide `hidden_dim`=30 (30 / 4 = 7.5). Choose num_heads ...
    """
    if value % divisor != 0:
        divisors = [d for d in range(1, value + 1) if value % d == 0]
        raise ValueError(
            f"`{divisor_name}`={divisor} does not divide `{value_name}`={value} "
            f"({value} / {divisor} = {value / divisor:.3g}). Choose {divisor_name} among the "
            f"divisors of {value}: {divisors}."
        )


def to_pair(value, name):
    """Returns `(height, width)` from an int or a pair of ints.

    Raises a `ValueError` naming `name` when `value` is neither.

    Example:

    >>> to_pair(16, "patch_size"), to_pair((8, 4), "patch_size")
    ((16, 16), (8, 4))
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        pair = (int(value), int(value))
    else:
        try:
            pair = tuple(int(v) for v in value)
            if any(isinstance(v, bool) or v != int(v) for v in value):
                pair = ()
        except (TypeError, ValueError):
            pair = ()
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(
            f"`{name}` must be a positive int or a pair of positive ints "
            f"(height, width). Received: {name}={value!r}"
        )
    return pair


def check_rank(shape, rank, name, layer, layout):
    """Raises a `ValueError` unless `shape` has `rank` dimensions.

    Example:

    >>> check_rank((2, 3), 3, "inputs", "TransformerBlock", "(batch, length, dim)")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: TransformerBlock expects `inputs` of rank 3 ... Received `inputs` of shape (2, 3) (rank 2).
    """
    if len(shape) != rank:
        raise ValueError(
            f"{layer} expects `{name}` of rank {rank} with layout {layout}. "
            f"Received `{name}` of shape {tuple(shape)} (rank {len(shape)})."
        )


def check_choice(value, choices, name):
    """Raises a `ValueError` unless `value` is one of `choices`.

    Example:

    >>> check_choice("mean", ("cls", "gap"), "pooling")
    Traceback (most recent call last):
    ...
    ValueError: `pooling` must be one of ['cls', 'gap']. Received: pooling='mean'
    """
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {list(choices)}. Received: {name}={value!r}")
