"""How much arithmetic a ViT needs per image, and how much a GPU can do: the two halves of MFU."""

import keras

from keraskit.layers import PatchEncoder, Patches, TransformerBlock

# Dense (no sparsity) bf16 tensor-core peaks from the vendors' data sheets, in FLOP/s.
# Matched against the device's name, most specific first.
PEAK_BF16_FLOPS = (
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),  # SXM
    ("A100", 312e12),
    ("L4", 121e12),
)


def transformer_block_macs(tokens, hidden_dim, num_heads, head_dim, intermediate_dim):
    """Multiply-adds of one Transformer block for one sequence (norms and softmax left out).

    q, k, v projections `3 T D (H d)`; scores `Q K^T` and the weighted sum of
    values `2 T^2 (H d)`; output projection `T (H d) D`; MLP `2 T D M`, with T
    tokens, D = `hidden_dim`, H heads of width d and M = `intermediate_dim`.

    Example:

    >>> transformer_block_macs(tokens=197, hidden_dim=768, num_heads=12, head_dim=64,
    ...                        intermediate_dim=3072) / 1e9  # one ViT-B/16 block
    1.45395456
    """
    width = num_heads * head_dim
    projections = 3 * tokens * hidden_dim * width + tokens * width * hidden_dim
    attention = 2 * tokens * tokens * width
    mlp = 2 * tokens * hidden_dim * intermediate_dim
    return projections + attention + mlp


def vit_flops(model, training=False):
    """FLOPs per image of a ViT built by `keraskit.models.vit` (2 FLOPs per multiply-add).

    Counts the matrix multiplications, which are nearly all the work: the
    convolutions of a `conv_stem` (if any), the patch projection, every block
    (see `transformer_block_macs`) and the head. Training costs 3x the forward
    pass (the backward pass computes gradients for both activations and
    weights: about 2x), the convention used to report model FLOPs utilization
    (MFU; Chowdhery et al., 2022).

    Args:
        model: a ViT from `keraskit.models.vit` (a `Patches`, a `PatchEncoder`,
            `TransformerBlock`s and a Dense `head` layer).
        training: count forward + backward instead of forward only.

    Returns:
        An int: FLOPs for one image.

    Example:

    >>> from keraskit.models import vit_base
    >>> round(vit_flops(vit_base()) / 2 / 1e9, 1)  # multiply-adds: timm's model card says 17.6 GMACs
    17.6
    """
    patches = _one(model, Patches)
    encoder = _one(model, PatchEncoder)
    blocks = [layer for layer in model.layers if isinstance(layer, TransformerBlock)]
    if not blocks:
        raise ValueError(f"Model {model.name!r} has no TransformerBlock; is it a keraskit ViT?")
    # Values per token: patch height x width x channels, five times that with shifted patches
    # (the image and its four shifted copies), as `Patches` itself computes it.
    values_per_patch = patches.compute_output_shape(patches.input.shape)[-1]
    hidden_dim = encoder.hidden_dim
    num_patches = encoder.num_patches
    tokens = num_patches + encoder.num_prefix_tokens
    macs = num_patches * values_per_patch * hidden_dim  # patch projection
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):  # a conv_stem: a kernel-sized dot product per value
            _, out_height, out_width, filters = layer.output.shape
            kernel_height, kernel_width = layer.kernel_size
            macs += out_height * out_width * filters * kernel_height * kernel_width * layer.input.shape[-1]
    for block in blocks:
        heads = block.num_heads
        head_dim = block.key_dim or hidden_dim // heads
        macs += transformer_block_macs(tokens, hidden_dim, heads, head_dim, block.intermediate_dim)
    for layer in model.layers:
        if layer.name.startswith(("head", "distillation_head")):
            macs += hidden_dim * layer.units
    flops = 2 * macs
    return 3 * flops if training else flops


def _one(model, kind):
    found = [layer for layer in model.layers if isinstance(layer, kind)]
    if not found:
        raise ValueError(f"Model {model.name!r} has no {kind.__name__} layer; is it a keraskit ViT?")
    return found[0]


def accelerator_name():
    """The name of the first accelerator the Keras backend sees, or None on a CPU.

    Example (on this project's CPU machines):

    >>> accelerator_name() is None or isinstance(accelerator_name(), str)
    True
    """
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            return None if device.platform == "cpu" else device.device_kind
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                return tf.config.experimental.get_device_details(gpus[0]).get("device_name")
    except Exception:  # a missing driver means no accelerator, not a crash
        return None
    return None


def accelerator_capability():
    """`(kind, compute_capability)` of the first device the Keras backend sees.

    `kind` is `"cpu"`, `"gpu"` or `"tpu"`; `compute_capability` is NVIDIA's
    `(major, minor)` for a GPU (`(8, 0)` for an A100, `(9, 0)` for an H100,
    `(7, 5)` for a T4), None otherwise or when the driver does not say.

    Example (on this project's CPU machines):

    >>> accelerator_capability()[0] in ("cpu", "gpu", "tpu")
    True
    """
    backend = keras.backend.backend()
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            if device.platform in ("cpu", "tpu"):
                return device.platform, None
            capability = getattr(device, "compute_capability", None)  # "8.0" on CUDA devices
            return "gpu", _capability(str(capability).split(".")) if capability else None
        if backend == "torch":
            import torch

            if torch.cuda.is_available():
                return "gpu", tuple(torch.cuda.get_device_capability(0))
            return "cpu", None
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                capability = tf.config.experimental.get_device_details(gpus[0]).get("compute_capability")
                return "gpu", _capability(capability) if capability else None
    except Exception:  # a missing driver means no accelerator, not a crash
        return "cpu", None
    return "cpu", None


def _capability(parts):
    return tuple(int(part) for part in parts)[:2]


def peak_flops(device_name=None):
    """Dense bf16 peak FLOP/s of a GPU by name (default: the one in use); None when unknown.

    Example:

    >>> peak_flops("NVIDIA H100 80GB HBM3") / 1e12
    989.0
    >>> peak_flops("cpu") is None
    True
    """
    name = device_name if device_name is not None else accelerator_name()
    if not name:
        return None
    for key, flops in PEAK_BF16_FLOPS:
        if key in name:
            return flops
    return None
