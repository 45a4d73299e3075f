"""Which number format to train in, and a scope that sets it for the models built inside."""

import contextlib

import keras

from keraskit.training.flops import accelerator_name
from keraskit.validation import check_choice

PRECISIONS = ("auto", "bfloat16", "float32")


def resolve_precision(precision="auto"):
    """`"bfloat16"` or `"float32"`: what `precision="auto"` means on this machine.

    `"auto"` is bfloat16 mixed precision on an accelerator, where its tensor
    cores double the throughput, and float32 on a CPU, where bfloat16 is
    emulated and slower.

    Example:

    >>> resolve_precision("float32")
    'float32'
    """
    check_choice(precision, PRECISIONS, "precision")
    if precision == "auto":
        return "bfloat16" if accelerator_name() else "float32"
    return precision


@contextlib.contextmanager
def precision_scope(precision="auto"):
    """Builds the models created inside in `precision`, then restores the global dtype policy.

    `"bfloat16"` is Keras's `"mixed_bfloat16"` policy: weights in float32,
    arithmetic in bfloat16 (keraskit's attention keeps its softmax in float32).

    Example:

    >>> import keras
    >>> with precision_scope("bfloat16"):
    ...     layer = keras.layers.Dense(2)
    >>> layer.dtype_policy.name, keras.config.dtype_policy().name
    ('mixed_bfloat16', 'float32')
    """
    policy = "mixed_bfloat16" if resolve_precision(precision) == "bfloat16" else "float32"
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:  # the policy is global: leave it as we found it
        keras.config.set_dtype_policy(previous)
