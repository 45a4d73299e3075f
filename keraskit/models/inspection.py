"""Looking inside a Transformer: every block's attention weights, and attention rollout."""

import keras
import numpy as np

from keraskit.layers import PatchEncoder, TransformerBlock


def _blocks(model):
    blocks = [layer for layer in model.layers if isinstance(layer, TransformerBlock)]
    if not blocks:
        raise ValueError(
            f"Model {model.name!r} has no keraskit TransformerBlock layer; "
            "attention maps need one (e.g. a model from keraskit.models.vit)."
        )
    return blocks


def attention_maps(model, images):
    """Returns the attention weights of every `TransformerBlock` of a model.

    Runs the model up to its first block, then runs the blocks one after the
    other with `return_attention_scores=True` (inference mode, no dropout). The
    model's blocks must be applied in sequence, as in `vit()`.

    Args:
        model: a functional `keras.Model` containing `TransformerBlock`s.
        images: a batch of inputs for the model.

    Returns:
        A list with one NumPy array per block, each `(batch, num_heads, N, N)`
        where N is the number of tokens (patches, plus the class token if any).
        Every row sums to 1: how much a token attends to each other token.

    Example:

    >>> import numpy as np
    >>> from keraskit.models import vit
    >>> model = vit(image_size=16, patch_size=4, num_classes=3, hidden_dim=16, num_layers=2,
    ...             num_heads=2, intermediate_dim=32, channels=1)
    >>> maps = attention_maps(model, np.zeros((1, 16, 16, 1)))
    >>> len(maps), maps[0].shape
    (2, (1, 2, 17, 17))
    """
    blocks = _blocks(model)
    to_first_block = keras.Model(model.input, blocks[0].input)
    x = to_first_block(images, training=False)
    maps = []
    for block in blocks:
        x, weights = block(x, return_attention_scores=True, training=False)
        maps.append(keras.ops.convert_to_numpy(weights))
    return maps


def attention_rollout(model, images, *, head_fusion="mean"):
    """Attention rollout (Abnar & Zuidema, 2020): which patches the prediction draws on.

    One block's attention says where each token looks; but a token's state
    already mixes other tokens from earlier blocks. Rollout follows attention
    through all blocks: each block's head-averaged attention `A` gets the
    residual connection added, `0.5 * A + 0.5 * I` (rows renormalized), and
    the blocks' matrices are multiplied from first to last. The class token's
    row of the product says how much each patch flowed into it; without a
    class token (`pooling="gap"`) the rows of all tokens are averaged.

    Args:
        model: a ViT from `keraskit.models.vit` (or any model with a `PatchEncoder`
            and `TransformerBlock`s applied in sequence).
        images: a batch of images for the model.
        head_fusion: how to combine heads: `"mean"` (the paper), `"max"` or `"min"`.

    Returns:
        NumPy array `(batch, grid_rows, grid_columns)`; each map sums to 1.

    Example:

    >>> import numpy as np
    >>> from keraskit.models import vit
    >>> model = vit(image_size=16, patch_size=4, num_classes=3, hidden_dim=16, num_layers=2,
    ...             num_heads=2, intermediate_dim=32, channels=1)
    >>> attention_rollout(model, np.zeros((1, 16, 16, 1))).shape
    (1, 4, 4)
    """
    fusions = {"mean": np.mean, "max": np.max, "min": np.min}
    if head_fusion not in fusions:
        raise ValueError(
            f"`head_fusion` must be one of {list(fusions)}. Received: head_fusion={head_fusion!r}"
        )
    encoders = [layer for layer in model.layers if isinstance(layer, PatchEncoder)]
    if not encoders:
        raise ValueError(f"Model {model.name!r} has no PatchEncoder: cannot find its patch grid.")
    encoder = encoders[0]
    rows, columns = encoder.grid_size
    maps = attention_maps(model, images)
    batch, _, tokens, _ = maps[0].shape
    identity = np.eye(tokens)
    rollout = np.broadcast_to(identity, (batch, tokens, tokens))
    for weights in maps:
        fused = fusions[head_fusion](weights.astype("float64"), axis=1)  # (B, N, N)
        with_residual = 0.5 * fused + 0.5 * identity
        with_residual /= with_residual.sum(axis=-1, keepdims=True)
        rollout = with_residual @ rollout  # later blocks act on what earlier ones mixed
    prefix = encoder.num_prefix_tokens  # class (and distillation) tokens come first
    if encoder.class_token:
        flow = rollout[:, 0, prefix:]  # how much of each patch reached the class token
    else:
        flow = rollout.mean(axis=1)
    flow = flow / flow.sum(axis=-1, keepdims=True)
    return flow.reshape(batch, rows, columns).astype("float32")
