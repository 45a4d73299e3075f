"""The Vision Transformer (Dosovitskiy et al., 2021): a Transformer encoder over image patches."""

import keras
import numpy as np

from keraskit.layers import PatchEncoder, Patches, TokenPooling, TransformerBlock
from keraskit.layers.patch_encoder import POSITIONS
from keraskit.validation import (
    check_bool,
    check_choice,
    check_positive_int,
    check_rate,
    check_transformer_arguments,
    to_pair,
)


def vit(
    *,
    image_size,
    patch_size,
    num_classes,
    hidden_dim,
    num_layers,
    num_heads,
    intermediate_dim,
    channels=3,
    shifted_patches=False,
    conv_stem=None,
    pooling="cls",
    position="learned",
    dropout=0.0,
    attention_dropout=0.0,
    drop_path=0.0,
    layer_norm_epsilon=1e-6,
    activation="gelu",
    classifier_activation=None,
    distillation=False,
    include_top=True,
    name="vit",
):
    """Builds a Vision Transformer classifier as a functional `keras.Model`.

    images -> `Patches` -> `PatchEncoder` (projection, class token, positions)
    -> `num_layers` pre-norm `TransformerBlock`s -> LayerNorm -> pooling -> Dense.
    With `conv_stem`, a few convolutions come first and the patches are cut from
    their feature map: the paper's hybrid.

    Every argument is keyword-only and checked before anything is built: a
    wrong value raises a `ValueError` naming the argument and what is allowed.

    Args:
        image_size: int or `(height, width)` of the input images.
        patch_size: int or `(patch_height, patch_width)`; must divide the image size.
        num_classes: number of output classes.
        hidden_dim: width of every token (the paper's hidden size D).
        num_layers: number of Transformer blocks.
        num_heads: attention heads per block; must divide `hidden_dim`.
        intermediate_dim: hidden width of each block's MLP.
        channels: channels of the input images; other images are rejected.
        shifted_patches: give each patch token the pixels half a patch beyond
            its border too (`Patches(shifted=True)`, the input side of Shifted
            Patch Tokenization, Lee et al. 2021): tokens five times as long, the
            rest of the model unchanged.
        conv_stem: None, or the filters of 3x3 convolutions with stride 2 ("same"
            padding, ReLU) that the images go through first: the ViT paper's
            hybrid (Dosovitskiy et al. 2021, section 3.1), whose patches come
            from a CNN's feature map instead of the pixels. Each convolution
            halves the height and width, rounding up, and `patch_size` must tile
            the final map: `conv_stem=(16, 64, 64)` turns 28x28 images into a
            4x4 map of 64 channels, which `patch_size=1` reads as 16 tokens.
        pooling: `"cls"` (read the class token) or `"gap"` (average the patch tokens).
        position: `"learned"`, `"sincos2d"` or `"none"` position information.
        dropout: dropout rate on activations: tokens, attention outputs, MLPs.
        attention_dropout: dropout rate on attention weights.
        drop_path: stochastic-depth rate of the last block; earlier blocks get
            rates growing linearly from 0 (as in DeiT).
        layer_norm_epsilon: epsilon of every LayerNorm.
        activation: activation of every block's MLP (`"gelu"`, exact, as in ViT).
        classifier_activation: activation of the head; None gives logits.
        distillation: add DeiT's distillation token and a second head that
            reads it (Touvron et al., 2021); train it with
            `keraskit.training.HardDistillation`. Needs `pooling="cls"`.
        include_top: end with the classification head (True), or return the
            pooled features: the class token (or the mean of the patch tokens)
            after the final LayerNorm, `(batch, hidden_dim)`, for your own head.
            `num_classes` may then be None.
        name: model name.

    Returns:
        A `keras.Model` from images `(batch, height, width, channels)` to
        `(batch, num_classes)`. The head is float32 even under mixed precision,
        so the loss sees full-precision logits. With `distillation=True`, two
        outputs: `[class_logits, distillation_logits]`, each `(batch, num_classes)`;
        at test time DeiT predicts with their average. With `include_top=False`,
        the features `(batch, hidden_dim)`.

    Example:

    >>> model = vit(image_size=28, patch_size=4, num_classes=10, hidden_dim=32,
    ...             num_layers=2, num_heads=4, intermediate_dim=64, channels=1)
    >>> model.output_shape
    (None, 10)

    The hybrid: three convolutions make a 4x4 feature map, one token per position.

    >>> hybrid = vit(image_size=28, patch_size=1, num_classes=10, hidden_dim=32, num_layers=2,
    ...              num_heads=4, intermediate_dim=64, channels=1, conv_stem=(16, 32, 32))
    >>> hybrid.get_layer("patches").output.shape, hybrid.get_layer("patch_encoder").grid_size
    ((None, 16, 32), (4, 4))
    """
    height, width = to_pair(image_size, "image_size")
    patch_height, patch_width = to_pair(patch_size, "patch_size")
    conv_stem = _check_conv_stem(conv_stem)
    map_height, map_width = stem_output_size(height, len(conv_stem)), stem_output_size(width, len(conv_stem))
    for side, size, patch in (("height", map_height, patch_height), ("width", map_width, patch_width)):
        if size % patch:
            tiled = f"the image {side} {size}"
            if conv_stem:
                tiled = (
                    f"the feature map's {side} after the {len(conv_stem)} stride-2 convolutions of "
                    f"`conv_stem`={conv_stem!r} ({size})"
                )
            raise ValueError(
                f"`patch_size`={patch_size!r} does not tile `image_size`={image_size!r}: {tiled} is "
                f"not divisible by the patch {side} {patch}."
            )
    if include_top or num_classes is not None:
        num_classes = check_positive_int(num_classes, "num_classes")
    check_transformer_arguments(
        hidden_dim=hidden_dim,
        num_layers=num_layers,
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        attention_dropout=attention_dropout,
        layer_norm_epsilon=layer_norm_epsilon,
    )
    channels = check_positive_int(channels, "channels")
    check_bool(shifted_patches, "shifted_patches")
    check_choice(pooling, ("cls", "gap"), "pooling")
    check_choice(position, POSITIONS, "position")
    if position == "sincos2d" and hidden_dim % 4:
        raise ValueError(
            "`hidden_dim` must be divisible by 4 with position='sincos2d' (sin and cos, for rows "
            f"and for columns). Received: hidden_dim={hidden_dim}"
        )
    drop_path = check_rate(drop_path, "drop_path")
    if distillation and pooling != "cls":
        raise ValueError(
            "`distillation=True` reads a class token and a distillation token, so it needs "
            f"pooling='cls'. Received: pooling={pooling!r}"
        )

    images = keras.Input((height, width, channels), name="images")
    feature_map = images
    for index, filters in enumerate(conv_stem):
        feature_map = keras.layers.Conv2D(
            filters, 3, strides=2, padding="same", activation="relu", name=f"stem_conv_{index}"
        )(feature_map)
    patch = (patch_height, patch_width)
    map_channels = conv_stem[-1] if conv_stem else channels
    patches = Patches(patch, channels=map_channels, shifted=shifted_patches, name="patches")(feature_map)
    grid = (map_height // patch_height, map_width // patch_width)
    x = PatchEncoder(
        hidden_dim,
        grid_size=grid,
        class_token=pooling == "cls",
        distillation_token=distillation,
        position=position,
        dropout=dropout,
        name="patch_encoder",
    )(patches)
    # Stochastic depth grows with depth: early blocks compute features every
    # later block relies on, so they are dropped least.
    drop_path_rates = np.linspace(0.0, drop_path, num_layers) if num_layers > 1 else [drop_path]
    for index in range(num_layers):
        x = TransformerBlock(
            num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            attention_dropout=attention_dropout,
            drop_path=float(drop_path_rates[index]),
            layer_norm_epsilon=layer_norm_epsilon,
            activation=activation,
            name=f"block_{index}",
        )(x)
    x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="final_norm")(x)
    features = TokenPooling(pooling, name="pooling")(x)
    if not include_top:
        return keras.Model(images, features, name=name)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, dtype="float32", name="head")(
        features
    )
    if distillation:
        distillation_outputs = keras.layers.Dense(
            num_classes, activation=classifier_activation, dtype="float32", name="distillation_head"
        )(TokenPooling("distillation", name="distillation_pooling")(x))
        outputs = [outputs, distillation_outputs]
    return keras.Model(images, outputs, name=name)


def stem_output_size(size, num_convs):
    """The height (or width) of an image after `num_convs` convolutions with stride 2 and
    "same" padding: each halves it, rounding up (28 -> 14 -> 7 -> 4).

    Example:

    >>> stem_output_size(28, 3), stem_output_size(224, 4)
    (4, 14)
    """
    for _ in range(num_convs):
        size = -(-size // 2)  # ceil(size / 2): "same" padding keeps a partial last window
    return size


def _check_conv_stem(conv_stem):
    """() for None, else the filters as a tuple of ints; a clear error for anything else."""
    if conv_stem is None:
        return ()
    error = ValueError(
        "`conv_stem` must be None or a non-empty list or tuple of filter counts (integers >= 1), "
        f"one per convolution, e.g. (16, 64, 64). Received: conv_stem={conv_stem!r}"
    )
    if not isinstance(conv_stem, (list, tuple)) or not conv_stem:
        raise error
    try:
        return tuple(check_positive_int(filters, "filters") for filters in conv_stem)
    except ValueError:
        raise error from None


# Widths, depths and heads of ViT (Dosovitskiy et al. 2021, table 1) and DeiT
# (Touvron et al. 2021, table 1); the MLP is 4x the width.
VIT_PRESETS = {
    "vit_tiny": dict(hidden_dim=192, num_layers=12, num_heads=3, intermediate_dim=768),
    "vit_small": dict(hidden_dim=384, num_layers=12, num_heads=6, intermediate_dim=1536),
    "vit_base": dict(hidden_dim=768, num_layers=12, num_heads=12, intermediate_dim=3072),
    "vit_large": dict(hidden_dim=1024, num_layers=24, num_heads=16, intermediate_dim=4096),
}


def _preset(preset, num_classes, image_size, patch_size, kwargs):
    config = dict(
        VIT_PRESETS[preset],
        image_size=image_size,
        patch_size=patch_size,
        num_classes=num_classes,
        name=preset,
    )
    config.update(kwargs)
    return vit(**config)


def vit_tiny(*, num_classes=1000, image_size=224, patch_size=16, **kwargs):
    """ViT-Ti/16 (DeiT-Tiny): width 192, 12 blocks, 3 heads; any `vit()` argument overrides.

    Example:

    >>> model = vit_tiny(num_classes=10, image_size=32, patch_size=4, num_layers=2)
    >>> model.output_shape, model.get_layer("block_0").num_heads
    ((None, 10), 3)
    """
    return _preset("vit_tiny", num_classes, image_size, patch_size, kwargs)


def vit_small(*, num_classes=1000, image_size=224, patch_size=16, **kwargs):
    """ViT-S/16 (DeiT-Small): width 384, 12 blocks, 6 heads; any `vit()` argument overrides.

    Example:

    >>> model = vit_small(num_classes=10, image_size=32, patch_size=4, num_layers=2)
    >>> model.get_layer("patch_encoder").hidden_dim
    384
    """
    return _preset("vit_small", num_classes, image_size, patch_size, kwargs)


def vit_base(*, num_classes=1000, image_size=224, patch_size=16, **kwargs):
    """ViT-B/16: width 768, 12 blocks, 12 heads, 86.6M parameters with 1000 classes.

    Example:

    >>> model = vit_base()
    >>> round(model.count_params() / 1e6, 1)
    86.6
    """
    return _preset("vit_base", num_classes, image_size, patch_size, kwargs)


def vit_large(*, num_classes=1000, image_size=224, patch_size=16, **kwargs):
    """ViT-L/16: width 1024, 24 blocks, 16 heads; any `vit()` argument overrides.

    Example:

    >>> model = vit_large(num_classes=10, image_size=32, num_layers=1)  # one block of ViT-L
    >>> model.get_layer("block_0").intermediate_dim
    4096
    """
    return _preset("vit_large", num_classes, image_size, patch_size, kwargs)
