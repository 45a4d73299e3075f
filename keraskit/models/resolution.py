"""Giving a trained ViT a new input resolution, with its weights.

Nothing in a ViT depends on the image size but the number of patches, and so
the number of position embeddings. Fine-tuning at a higher resolution than the
pre-training (as the ViT paper does at 384x384 after 224x224) keeps every weight
and resizes the grid of position embeddings like an image.
"""

import copy

import keras

from keraskit.layers import PatchEncoder, Patches
from keraskit.validation import to_pair


def resize_vit(model, image_size):
    """A copy of a keraskit ViT that takes images of another size, with the same weights.

    The new model has the same layers; its learned position embeddings are
    resized bicubically from the old patch grid to the new one (the class and
    distillation tokens' are kept), as Hugging Face's `interpolate_pos_encoding`
    and timm do. The original model is left unchanged.

    Args:
        model: a functional model with one `Patches` and one `PatchEncoder`
            layer, such as `keraskit.models.vit` and `vit_from_pretrained` build;
            with a `conv_stem`, its convolutions keep their weights too.
        image_size: int or `(height, width)` whose patch grid is whole: a multiple
            of the patch size, or, with a `conv_stem`, a size whose feature map is.

    Returns:
        A new `keras.Model` taking `(batch, height, width, channels)` images.

    Example:

    >>> from keraskit.models import vit
    >>> model = vit(image_size=32, patch_size=8, num_classes=10, hidden_dim=16,
    ...             num_layers=1, num_heads=2, intermediate_dim=32)
    >>> larger = resize_vit(model, 64)
    >>> larger.input_shape, tuple(larger.get_layer("patch_encoder").position_embedding.shape)
    ((None, 64, 64, 3), (65, 16))
    """
    height, width = to_pair(image_size, "image_size")
    patches, encoder = _only(model, Patches), _only(model, PatchEncoder)
    patch_height, patch_width = patches.patch_size
    map_height, map_width = _feature_map_size(model, height, width)
    if map_height % patch_height or map_width % patch_width:
        advice = f"; choose a multiple of {patch_height} for the height and of {patch_width} for the width."
        if (height, width) != (map_height, map_width):  # a conv_stem
            advice = f": its convolutions make it a {map_height}x{map_width} feature map."
        raise ValueError(
            f"resize_vit: image_size={image_size!r} is not a whole number of "
            f"{patch_height}x{patch_width} patches (model {model.name!r}){advice}"
        )
    new_grid = (map_height // patch_height, map_width // patch_width)

    config = copy.deepcopy(model.get_config())
    for layer in config["layers"]:
        # Each layer is built again by the call on the new input, for the new shapes.
        layer.pop("build_config", None)
        if layer["class_name"] == "InputLayer":
            shape = layer["config"]["batch_shape"]
            layer["config"]["batch_shape"] = [shape[0], height, width, *shape[3:]]
        elif layer["config"].get("name") == encoder.name:
            layer["config"]["grid_size"] = list(new_grid)
    resized = model.__class__.from_config(config)

    for old_layer in model.layers:
        new_layer = resized.get_layer(old_layer.name)
        for old, new in zip(old_layer.weights, new_layer.weights, strict=True):
            # A copy, not the same buffer: on JAX, training one model donates (deletes) its
            # arrays, which would leave the other model holding deleted ones.
            value = keras.ops.convert_to_numpy(old).copy()
            if old_layer is encoder and old is getattr(encoder, "position_embedding", None):
                value = keras.ops.convert_to_numpy(encoder.positions_for_grid(new_grid))
            new.assign(value)
    return resized


def _feature_map_size(model, height, width):
    """The size the model's convolutions (a `conv_stem`) turn a height x width image into."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.Conv2D):
            sizes = []
            for size, kernel, stride in zip((height, width), layer.kernel_size, layer.strides, strict=True):
                # "same" pads so that every stride-th position gets a window; "valid" does not pad.
                sizes.append(-(-size // stride) if layer.padding == "same" else (size - kernel) // stride + 1)
            height, width = sizes
    return height, width


def _only(model, layer_class):
    found = [layer for layer in getattr(model, "layers", []) if isinstance(layer, layer_class)]
    if len(found) != 1 or not hasattr(model, "get_config"):
        raise ValueError(
            f"resize_vit expects a functional ViT with one {layer_class.__name__} layer, such as "
            f"keraskit.models.vit builds. Model {getattr(model, 'name', model)!r} has {len(found)}."
        )
    return found[0]
