"""Which number format to train in, and a scope that sets it for the models built inside."""

import contextlib

import keras

from keraskit.training.flops import accelerator_capability
from keraskit.validation import check_choice

PRECISIONS = ("auto", "bfloat16", "float16", "float32")
# Keras's mixed policies: weights in float32, arithmetic in the 16-bit type.
POLICIES = {"bfloat16": "mixed_bfloat16", "float16": "mixed_float16", "float32": "float32"}
# NVIDIA GPUs compute bfloat16 on tensor cores from Ampere (compute capability 8.0) on.
BFLOAT16_TENSOR_CORES = (8, 0)


def resolve_precision(precision="auto"):
    """`"bfloat16"`, `"float16"` or `"float32"`: what `precision="auto"` means on this machine.

    `"auto"` picks the fastest format the device computes natively:

    - bfloat16 mixed precision on a GPU with bfloat16 tensor cores (compute
      capability 8.0 and later: A100, L4, RTX 30xx, H100) and on a TPU;
    - float16 mixed precision on an older GPU (V100, T4, RTX 20xx), which has
      float16 tensor cores but emulates bfloat16 slowly; `model.compile` then
      scales the loss (Keras's `LossScaleOptimizer`) so small gradients do not
      underflow float16's narrow range;
    - float32 on a CPU, where 16-bit formats are emulated and slower (and on a
      GPU whose capability the driver does not report).

    Example:

    >>> resolve_precision("float32")
    'float32'
    >>> auto_precision("gpu", (7, 5)), auto_precision("gpu", (9, 0)), auto_precision("cpu", None)
    ('float16', 'bfloat16', 'float32')
    """
    check_choice(precision, PRECISIONS, "precision")
    if precision == "auto":
        return auto_precision(*accelerator_capability())
    return precision


def auto_precision(kind, capability):
    """The precision `"auto"` stands for on a device of this kind and compute capability."""
    if kind == "tpu":
        return "bfloat16"
    if kind == "gpu" and capability is not None:
        return "bfloat16" if tuple(capability) >= BFLOAT16_TENSOR_CORES else "float16"
    return "float32"


@contextlib.contextmanager
def precision_scope(precision="auto"):
    """Builds the models created inside in `precision`, then restores the global dtype policy.

    `"bfloat16"` is Keras's `"mixed_bfloat16"` policy: weights in float32,
    arithmetic in bfloat16 (keraskit's attention keeps its softmax in float32);
    `"float16"` is `"mixed_float16"`, whose models `compile` with loss scaling.

    Example:

    >>> import keras
    >>> with precision_scope("bfloat16"):
    ...     layer = keras.layers.Dense(2)
    >>> layer.dtype_policy.name, keras.config.dtype_policy().name
    ('mixed_bfloat16', 'float32')
    """
    policy = POLICIES[resolve_precision(precision)]
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        yield policy
    finally:  # the policy is global: leave it as we found it
        keras.config.set_dtype_policy(previous)
