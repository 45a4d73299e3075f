"""Reading a KerasHub `ViTBackbone` or `ViTImageClassifier` object.

KerasHub's ViT is also Keras, and its attention is Keras's `MultiHeadAttention`,
whose projections have exactly the shapes of keraskit's (`(hidden_dim, num_heads,
head_dim)` for the query, key and value): most arrays copy as they are. Its patch
embedding is a `Conv2D` with a `(patch_height, patch_width, channels, hidden_dim)`
kernel, which flattens into the projection of the patches `Patches` cuts.

keraskit reads the object's layers and weights and never imports keras_hub.
"""

import keras
import numpy as np

from keraskit.models.pretrained.checkpoint import Checkpoint


def is_keras_hub_vit(source):
    """Whether `source` is a KerasHub ViT backbone or image classifier (by class, no import)."""
    names = {cls.__name__ for cls in type(source).__mro__}
    return bool({"ViTBackbone", "ViTImageClassifier"} & names) and isinstance(source, keras.Model)


def checkpoint_from_keras_hub(source):
    """A `Checkpoint` holding the weights of a KerasHub ViT model object."""
    names = {cls.__name__ for cls in type(source).__mro__}
    classifier = source if "ViTImageClassifier" in names else None
    backbone = source.backbone if classifier is not None else source
    label = f"KerasHub {type(source).__name__} {source.name!r}"
    if getattr(backbone, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"{label}: keraskit's ViT takes channels-last images; this one is channels-first.")
    class_token = backbone.use_class_token
    if classifier is not None:
        if classifier.intermediate_dim is not None:
            raise ValueError(
                f"{label} has a pre-logits layer (intermediate_dim={classifier.intermediate_dim}), which "
                "keraskit's ViT does not have; load its backbone with a new head instead: "
                "vit_from_pretrained(classifier.backbone, num_classes=...)."
            )
        if class_token and classifier.pooling != "token":
            raise ValueError(
                f"{label} averages all tokens, the class token included (pooling={classifier.pooling!r}); "
                "keraskit's 'gap' pooling has no class token. Load its backbone instead."
            )

    height, width, channels = backbone.image_shape
    dim, heads = backbone.hidden_dim, backbone.num_heads
    arguments = dict(
        image_size=(height, width),
        patch_size=tuple(backbone.patch_size),
        channels=channels,
        hidden_dim=dim,
        num_layers=backbone.num_layers,
        num_heads=heads,
        intermediate_dim=backbone.mlp_dim,
        layer_norm_epsilon=backbone.layer_norm_epsilon,
        dropout=backbone.dropout_rate,
        attention_dropout=backbone.attention_dropout,
        pooling="cls" if class_token else "gap",
        name="vit",
    )
    weights = {}

    def put(target, variable, array=None, name=None):
        value = _numpy(variable) if array is None else array
        weights[target] = (name or variable.path, value)

    embedding = backbone.get_layer("vit_patching_and_embedding")
    kernel = embedding.patch_embedding.kernel
    put("patch_encoder.projection.kernel", kernel, _numpy(kernel).reshape(-1, dim))
    _put_bias(put, "patch_encoder.projection.bias", embedding.patch_embedding, dim)
    if class_token:
        put(
            "patch_encoder.class_embedding", embedding.class_token, _numpy(embedding.class_token).reshape(dim)
        )
    put("patch_encoder.position_embedding", embedding.position_embedding.embeddings)

    encoder = backbone.get_layer("vit_encoder")
    for index, layer in enumerate(encoder.encoder_layers):
        block = f"block_{index}."
        attention = layer.mha
        for part in ("query", "key", "value", "output"):
            dense = getattr(attention, f"_{part}_dense")
            put(f"{block}attention.{part}_dense.kernel", dense.kernel)
            shape = (dim,) if part == "output" else (heads, dim // heads)
            _put_bias(put, f"{block}attention.{part}_dense.bias", dense, shape)
        for norm, keras_norm in (("attention_norm", layer.layer_norm_1), ("mlp_norm", layer.layer_norm_2)):
            put(f"{block}{norm}.gamma", keras_norm.gamma)
            put(f"{block}{norm}.beta", keras_norm.beta)
        for dense, keras_dense in (("mlp_hidden", layer.mlp.dense_1), ("mlp_output", layer.mlp.dense_2)):
            put(f"{block}{dense}.kernel", keras_dense.kernel)
            _put_bias(put, f"{block}{dense}.bias", keras_dense, keras_dense.kernel.shape[-1:])
    put("final_norm.gamma", encoder.layer_norm.gamma)
    put("final_norm.beta", encoder.layer_norm.beta)

    head_weights, num_classes = {}, None
    if classifier is not None:
        head = classifier.output_dense
        num_classes = head.units
        head_weights["head.kernel"] = (head.kernel.path, _numpy(head.kernel))
        head_weights["head.bias"] = (head.bias.path, _numpy(head.bias))
        arguments["classifier_activation"] = keras.activations.serialize(head.activation)
    return Checkpoint(label, arguments, weights, head_weights, num_classes)


def _numpy(variable):
    return keras.ops.convert_to_numpy(variable)


def _put_bias(put, target, layer, shape):
    """A layer's bias, or zeros where it has none (use_bias=False): a zero bias computes the same."""
    if getattr(layer, "bias", None) is not None:
        put(target, layer.bias)
    else:
        put(target, layer.kernel, np.zeros(shape, "float32"), name=f"{layer.name} (no bias: zeros)")
