"""From a sequence of tokens to one vector: the class token, or the (masked) mean."""

import keras
from keras import ops

from keraskit.validation import check_choice, check_rank


@keras.saving.register_keras_serializable(package="keraskit")
class TokenPooling(keras.layers.Layer):
    """Summarizes a sequence of tokens into one vector per example.

    `"cls"` takes the first token, the class token that a ViT or BERT prepends
    so attention can gather a summary into it; `"distillation"` takes the
    second, DeiT's distillation token. `"gap"` (global average pooling)
    averages the tokens; with a padding mask it averages only the real tokens,
    so padding does not dilute the mean.

    Args:
        method: `"cls"`, `"distillation"` or `"gap"`.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(batch, length, dim)`.
        mask: optional boolean `(batch, length)` padding mask (`"gap"` only);
            Keras passes it automatically after a masking layer.

    Returns:
        Tensor of shape `(batch, dim)`.

    Example:

    >>> import keras, numpy as np
    >>> x = np.array([[[1.0], [3.0], [100.0]]], dtype="float32")
    >>> mask = np.array([[True, True, False]])
    >>> keras.ops.convert_to_numpy(TokenPooling("gap")(x, mask=mask)).tolist()
    [[2.0]]
    """

    def __init__(self, method="cls", **kwargs):
        super().__init__(**kwargs)
        check_choice(method, ("cls", "distillation", "gap"), "method")
        self.method = method
        self.supports_masking = True

    def call(self, inputs, mask=None):
        check_rank(inputs.shape, 3, "inputs", "TokenPooling", "(batch, length, dim)")
        if self.method == "cls":
            return inputs[:, 0]
        if self.method == "distillation":
            return inputs[:, 1]
        if mask is None:
            return ops.mean(inputs, axis=1)
        weights = ops.cast(mask, inputs.dtype)[:, :, None]  # (B, T, 1): 1 real, 0 padding
        total = ops.sum(inputs * weights, axis=1)
        count = ops.maximum(ops.sum(weights, axis=1), 1.0)  # a fully padded row gives 0, not NaN
        return total / count

    def compute_mask(self, inputs, mask=None):
        return None  # one vector per example: nothing left to mask

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"method": self.method})
        return config
