"""Stochastic depth: skip a whole residual branch for some samples while training."""

import keras
from keras import ops

from keraskit.validation import check_rate


@keras.saving.register_keras_serializable(package="keraskit")
class DropPath(keras.layers.Layer):
    """Drops a residual branch for a random subset of the samples in a batch.

    Dropout zeroes single values; DropPath zeroes a whole sample's branch
    output, so for that sample the block is skipped and the network is
    shallower (stochastic depth, Huang et al. 2016). Kept samples are scaled
    by `1 / (1 - rate)` so the expected output is unchanged. At inference it
    does nothing. Deep ViTs (DeiT, Touvron et al. 2021) use it as their main
    regularizer, with rates growing linearly with depth.

    Args:
        rate: probability of dropping the branch for a sample, in [0, 1).
        seed: optional int seed for the random draws.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(batch, ...)`, the output of a residual branch.
        training: whether to drop (True) or pass through (False/None).

    Returns:
        Tensor with the shape of `inputs`.

    Example:

    >>> import numpy as np
    >>> x = np.ones((4, 3, 2), dtype="float32")
    >>> tuple(DropPath(0.5)(x, training=False).shape)
    (4, 3, 2)
    """

    def __init__(self, rate=0.0, *, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_rate(rate, "rate")
        self.seed = seed
        self.supports_masking = True
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        # One draw per sample, broadcast over its tokens and features.
        noise_shape = (ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        return keras.random.dropout(inputs, self.rate, noise_shape=noise_shape, seed=self.seed_generator)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"rate": self.rate, "seed": self.seed})
        return config
