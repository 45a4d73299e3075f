"""AdamW as ViTs are trained with it: weight decay on the weight matrices, nowhere else."""

import keras

from keraskit.validation import check_rate


def decayed_weights(model):
    """The variables weight decay should shrink: every layer's `kernel` and `Embedding` table.

    Decided by the model's structure, not by a list of names: a variable decays
    when it is the matrix a layer multiplies its input by (the `kernel` of
    `Dense`, `EinsumDense` and convolutions) or a token embedding table.
    Shrinking those keeps the function simple. Everything else only shifts,
    scales or marks tokens (biases, LayerNorm scales and offsets, the class
    and distillation tokens, position embeddings), and pulling it towards 0
    only hurts (DeiT and timm leave the same variables alone).

    Args:
        model: a built `keras.Model` or layer.

    Returns:
        A list of its trainable variables, in the model's order.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="dense"),
    ...                           keras.layers.LayerNormalization(name="norm")], name="model")
    >>> [variable.path for variable in decayed_weights(model)]
    ['model/dense/kernel']
    """
    matrices = set()
    # Keras keeps no public list of nested layers; _flatten_layers is how Keras walks them.
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, keras.layers.Embedding):
            matrices.add(id(layer.embeddings))
        elif isinstance(getattr(layer, "kernel", None), keras.Variable):
            matrices.add(id(layer.kernel))
    return [variable for variable in model.trainable_variables if id(variable) in matrices]


def adamw_optimizer(model, learning_rate, *, weight_decay=0.05, **adamw_arguments):
    """Keras's `AdamW` with weight decay on `decayed_weights(model)` only.

    Args:
        model: the built model whose trainable variables the optimizer will update.
        learning_rate: a float or a `keras.optimizers.schedules.LearningRateSchedule`
            (e.g. `warmup_cosine`).
        weight_decay: AdamW's decoupled weight decay, in [0, 1).
        **adamw_arguments: any other `keras.optimizers.AdamW` argument (`beta_2`, ...).

    Returns:
        A `keras.optimizers.AdamW`, not built yet.

    Example:

    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4)])
    >>> optimizer = adamw_optimizer(model, 1e-3)
    >>> optimizer.build(model.trainable_variables)
    >>> [optimizer._use_weight_decay(v) for v in model.trainable_variables]  # kernel, bias
    [True, False]
    """
    weight_decay = check_rate(weight_decay, "weight_decay")
    optimizer = keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, **adamw_arguments)
    decayed = {id(variable) for variable in decayed_weights(model)}
    optimizer.exclude_from_weight_decay(
        var_list=[variable for variable in model.trainable_variables if id(variable) not in decayed]
    )
    return optimizer
