"""A ViT checkpoint in keraskit's terms, and the model built from it.

Every source (a Hugging Face directory, a KerasHub object) is first read into a
`Checkpoint`: the `vit()` arguments that rebuild its architecture and its arrays
already in keraskit's layouts, each under the keraskit weight it fills. Building
the model, giving it a new head or a new resolution, and checking every shape
happen once, here, for every source.
"""

import dataclasses

import keras

from keraskit.models.resolution import resize_vit
from keraskit.models.vision_transformer import vit
from keraskit.validation import check_positive_int, to_pair


@dataclasses.dataclass
class Checkpoint:
    """What a pretrained ViT is made of, read from its source.

    Attributes:
        source: where it came from, for messages (a path, a repo id, a class name).
        arguments: `vit()` keyword arguments for its architecture, at its own
            image size, without `num_classes`.
        weights: keraskit weight -> `(name in the source, array)`. A keraskit
            weight is written `layer.attribute.variable`, e.g.
            `"block_0.attention.query_dense.kernel"`.
        head_weights: the same for the classification head(s); empty if none.
        num_classes: classes of the checkpoint's head, None if it has none.
        distillation_heads: True when it has DeiT's two heads (class and
            distillation), False for one head or none.
    """

    source: str
    arguments: dict
    weights: dict
    head_weights: dict = dataclasses.field(default_factory=dict)
    num_classes: int | None = None
    distillation_heads: bool = False

    @property
    def distillation_token(self):
        return self.arguments.get("distillation", False)


def build_model(checkpoint, *, num_classes=None, image_size=None, include_top=True):
    """The keraskit ViT of a `Checkpoint`, its weights loaded (see `vit_from_pretrained`)."""
    arguments = dict(checkpoint.arguments)
    if num_classes is not None:
        num_classes = check_positive_int(num_classes, "num_classes")
        if not include_top:
            raise ValueError(
                f"`num_classes`={num_classes} with include_top=False: the features have no head. "
                "Pass one or the other."
            )
    if include_top and num_classes is None:
        if checkpoint.num_classes is None:
            raise ValueError(
                f"{checkpoint.source} has no classification head, so `num_classes` is needed "
                "for a new one; or pass include_top=False for its features."
            )
        num_classes = checkpoint.num_classes
    new_head = include_top and num_classes != checkpoint.num_classes

    if new_head:  # logits for a new head, whatever the checkpoint's head ended with
        arguments.pop("classifier_activation", None)
    model = vit(**arguments, num_classes=num_classes if include_top else None, include_top=include_top)
    if include_top and checkpoint.distillation_token and not checkpoint.distillation_heads:
        # DeiT trained without a teacher: a distillation token, but one head reading the class token.
        model = keras.Model(model.input, model.outputs[0], name=model.name)

    weights = dict(checkpoint.weights)
    if include_top and not new_head:
        weights.update(checkpoint.head_weights)
    _assign(model, weights, checkpoint.source, fresh=("head", "distillation_head") if new_head else ())
    # Built at the checkpoint's own size; another size is resize_vit's work (bicubic positions).
    own_size = to_pair(arguments["image_size"], "image_size")
    if image_size is not None and to_pair(image_size, "image_size") != own_size:
        model = resize_vit(model, image_size)
    return model


def resolve(model, target):
    """The variable behind a keraskit weight name such as `"block_0.attention_norm.gamma"`."""
    layer_name, *attributes = target.split(".")
    item = model.get_layer(layer_name)
    for attribute in attributes:
        item = getattr(item, attribute)
    return item


def _assign(model, weights, source, fresh=()):
    """Copies every array into its variable; a wrong shape or a weight left out is an error."""
    filled = set()
    for target, (name, array) in weights.items():
        variable = resolve(model, target)
        if tuple(array.shape) != tuple(variable.shape):
            raise ValueError(
                f"{source}: weight {name!r} has shape {tuple(array.shape)}, but it fills keraskit's "
                f"{target} of shape {tuple(variable.shape)}. The checkpoint does not match its own "
                "config (or the architecture it says)."
            )
        variable.assign(array.astype(keras.backend.standardize_dtype(variable.dtype)))
        filled.add(id(variable))
    fresh_layers = [model.get_layer(name) for name in fresh if name in _layer_names(model)]
    fresh_ids = {id(variable) for layer in fresh_layers for variable in layer.weights}
    missing = [v.path for v in model.weights if id(v) not in filled and id(v) not in fresh_ids]
    if missing:  # a bug in a converter, never the user's: say so plainly
        raise RuntimeError(
            f"{source}: no weight was loaded into {missing}. This is a bug in keraskit's converter, "
            "not in your checkpoint: please report it with the checkpoint's name."
        )


def _layer_names(model):
    return {layer.name for layer in model.layers}
