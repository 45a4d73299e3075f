"""The Transformer block: attention to mix tokens, an MLP to transform each token.

Each of the two sub-layers sits on a residual connection (`x + f(x)`), so a
deep stack can always pass its input through unchanged, and a LayerNorm keeps
the scale of the activations in check: before the sub-layer ("pre-norm", ViT
and GPT-2, trains stably without warmup tricks) or after the addition
("post-norm", the original Transformer and BERT).
"""

import keras

from keraskit.layers._initializers import fresh
from keraskit.layers.attention import MultiHeadCrossAttention, MultiHeadSelfAttention
from keraskit.layers.drop_path import DropPath
from keraskit.validation import check_positive_int, check_positive_number, check_rank, check_rate


class _BlockBase(keras.layers.Layer):
    """Arguments and sub-layers shared by the encoder and decoder blocks."""

    def __init__(
        self,
        num_heads,
        *,
        intermediate_dim,
        key_dim=None,
        dropout=0.0,
        attention_dropout=0.0,
        drop_path=0.0,
        normalize_first=True,
        activation="gelu",
        layer_norm_epsilon=1e-6,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int(num_heads, "num_heads")
        self.intermediate_dim = check_positive_int(intermediate_dim, "intermediate_dim")
        self.key_dim = None if key_dim is None else check_positive_int(key_dim, "key_dim")
        self.dropout = check_rate(dropout, "dropout")
        self.attention_dropout = check_rate(attention_dropout, "attention_dropout")
        self.drop_path = check_rate(drop_path, "drop_path")
        self.normalize_first = bool(normalize_first)
        self.activation = keras.activations.get(activation)
        self.layer_norm_epsilon = check_positive_number(layer_norm_epsilon, "layer_norm_epsilon")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True

    def _attention_args(self, name):
        return dict(
            num_heads=self.num_heads,
            key_dim=self.key_dim,
            attention_dropout=self.attention_dropout,
            use_bias=self.use_bias,
            kernel_initializer=fresh(self.kernel_initializer, name),
            bias_initializer=fresh(self.bias_initializer, name),
            dtype=self.dtype_policy,
            name=name,
        )

    def _norm(self, name):
        return keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name
        )

    def _build_mlp(self, input_shape):
        """Two Dense layers, widening to `intermediate_dim` then back: applied to each token alone."""

        def dense(units, name, activation=None):
            return keras.layers.Dense(
                units,
                activation=activation,
                use_bias=self.use_bias,
                kernel_initializer=fresh(self.kernel_initializer, name),  # each its own draws
                bias_initializer=fresh(self.bias_initializer, name),
                dtype=self.dtype_policy,
                name=name,
            )

        self.mlp_norm = self._norm("mlp_norm")
        self.mlp_norm.build(input_shape)
        self.mlp_hidden = dense(self.intermediate_dim, "mlp_hidden", activation=self.activation)
        self.mlp_hidden.build(input_shape)
        self.mlp_output = dense(input_shape[-1], "mlp_output")
        self.mlp_output.build((*input_shape[:-1], self.intermediate_dim))
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.drop_path_layer = DropPath(self.drop_path, dtype=self.dtype_policy)

    def _mlp(self, x, training):
        x = self.mlp_hidden(x)  # (B, T, D) -> (B, T, intermediate_dim)
        x = self.dropout_layer(x, training=training)
        return self.mlp_output(x)  # -> (B, T, D)

    def _residual(self, x, norm, sublayer, training):
        """`x + f(norm(x))` (pre-norm) or `norm(x + f(x))` (post-norm)."""
        if self.normalize_first:
            branch, extra = sublayer(norm(x))
        else:
            branch, extra = sublayer(x)
        branch = self.drop_path_layer(self.dropout_layer(branch, training=training), training=training)
        x = x + branch
        return (x if self.normalize_first else norm(x)), extra

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "key_dim": self.key_dim,
                "dropout": self.dropout,
                "attention_dropout": self.attention_dropout,
                "drop_path": self.drop_path,
                "normalize_first": self.normalize_first,
                "activation": keras.activations.serialize(self.activation),
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keraskit")
class TransformerBlock(_BlockBase):
    """One Transformer encoder block: self-attention then an MLP, each with a residual.

    Pre-norm (`normalize_first=True`, the ViT default):
    `x = x + Attention(LayerNorm(x))`, then `x = x + MLP(LayerNorm(x))`.
    Post-norm (`normalize_first=False`, Vaswani et al. 2017):
    `x = LayerNorm(x + Attention(x))`, then `x = LayerNorm(x + MLP(x))`.
    The MLP is `Dense(intermediate_dim, activation) -> Dense(hidden_dim)`, applied to
    each token. Arguments are the words of KerasHub's `TransformerEncoder`; all but
    `num_heads` are keyword-only, so a call in another library's order
    (`TransformerBlock(256, 4)`) fails instead of building 256 heads.

    Args:
        num_heads: number of attention heads.
        intermediate_dim: hidden width of the MLP (usually 4x the model width).
        key_dim: width of each attention head; default `hidden_dim // num_heads`.
        dropout: dropout rate on activations: the attention output, the MLP's
            hidden layer and its output.
        attention_dropout: dropout on the attention weights.
        drop_path: stochastic-depth rate for both residual branches.
        normalize_first: pre-norm (True) or post-norm (False).
        activation: MLP activation; `"gelu"` as in ViT and BERT.
        layer_norm_epsilon: epsilon of the LayerNorms (1e-6 as in ViT).
        use_bias: whether the Dense layers add biases.
        kernel_initializer: initializer of all kernels.
        bias_initializer: initializer of all biases.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(batch, length, hidden_dim)`.
        mask: optional padding mask `(batch, length)` or attention mask
            `(batch, length, length)`, as in `MultiHeadSelfAttention`.
        use_causal_mask: if True, each position attends only to earlier ones.
        return_attention_scores: if True, also return the attention weights.
        training: whether dropout and drop-path are active.

    Returns:
        Tensor of shape `(batch, length, hidden_dim)`, and the attention weights
        `(batch, num_heads, length, length)` if `return_attention_scores=True`.

    Example:

    >>> import numpy as np
    >>> block = TransformerBlock(num_heads=4, intermediate_dim=128)
    >>> tuple(block(np.random.rand(2, 16, 32).astype("float32")).shape)
    (2, 16, 32)
    """

    def build(self, input_shape):
        check_rank(input_shape, 3, "inputs", "TransformerBlock", "(batch, length, hidden_dim)")
        self.attention = MultiHeadSelfAttention(**self._attention_args("attention"))
        self.attention.build(input_shape)
        self.attention_norm = self._norm("attention_norm")
        self.attention_norm.build(input_shape)
        self._build_mlp(input_shape)

    def call(
        self,
        inputs,
        mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        def attend(x):
            result = self.attention(
                x,
                mask=mask,
                use_causal_mask=use_causal_mask,
                return_attention_scores=return_attention_scores,
                training=training,
            )
            return result if return_attention_scores else (result, None)

        x, scores = self._residual(inputs, self.attention_norm, attend, training)
        x, _ = self._residual(x, self.mlp_norm, lambda h: (self._mlp(h, training), None), training)
        return (x, scores) if return_attention_scores else x

    def compute_mask(self, inputs, mask=None):
        return mask if mask is not None and len(mask.shape) == 2 else None


@keras.saving.register_keras_serializable(package="keraskit")
class TransformerDecoderBlock(_BlockBase):
    """One Transformer decoder block: causal self-attention, cross-attention, MLP.

    The decoder writes the target one token at a time. Its self-attention is
    causal (a token cannot peek at the tokens after it, which do not exist yet
    at generation time); its cross-attention reads the encoder's outputs; its
    MLP transforms each token. Each sub-layer has a residual and a LayerNorm,
    before (`normalize_first=True`) or after it, as in `TransformerBlock`.

    Args:
        Same as `TransformerBlock`.

    Call arguments:
        inputs: the target sequence so far, `(batch, target_length, hidden_dim)`.
        encoder_outputs: `(batch, source_length, encoder_dim)`.
        mask: optional padding mask of the target `(batch, target_length)`.
        encoder_mask: optional padding mask of the source `(batch, source_length)`.
        use_causal_mask: causal self-attention; True by default (turn off only
            for a non-autoregressive decoder).
        return_attention_scores: if True, also return the self-attention and
            cross-attention weights.
        training: whether dropout and drop-path are active.

    Returns:
        Tensor of shape `(batch, target_length, hidden_dim)`; with
        `return_attention_scores=True`, `(outputs, self_weights, cross_weights)`.

    Example:

    >>> import numpy as np
    >>> block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    >>> target, source = np.ones((1, 4, 16)), np.ones((1, 6, 16))
    >>> tuple(block(target, source).shape)
    (1, 4, 16)
    """

    def build(self, inputs_shape, encoder_outputs_shape=None):
        input_shape = inputs_shape
        check_rank(input_shape, 3, "inputs", "TransformerDecoderBlock", "(batch, length, hidden_dim)")
        encoder_outputs_shape = encoder_outputs_shape or input_shape
        self.self_attention = MultiHeadSelfAttention(**self._attention_args("self_attention"))
        self.self_attention.build(input_shape)
        self.self_attention_norm = self._norm("self_attention_norm")
        self.self_attention_norm.build(input_shape)
        self.cross_attention = MultiHeadCrossAttention(**self._attention_args("cross_attention"))
        self.cross_attention.build(input_shape, encoder_outputs_shape)
        self.cross_attention_norm = self._norm("cross_attention_norm")
        self.cross_attention_norm.build(input_shape)
        self._build_mlp(input_shape)

    def call(
        self,
        inputs,
        encoder_outputs,
        mask=None,
        encoder_mask=None,
        use_causal_mask=True,
        return_attention_scores=False,
        training=None,
    ):
        check_rank(
            encoder_outputs.shape,
            3,
            "encoder_outputs",
            "TransformerDecoderBlock",
            "(batch, source_length, dim)",
        )

        def self_attend(x):
            result = self.self_attention(
                x,
                mask=mask,
                use_causal_mask=use_causal_mask,
                return_attention_scores=return_attention_scores,
                training=training,
            )
            return result if return_attention_scores else (result, None)

        def cross_attend(x):
            result = self.cross_attention(
                x,
                encoder_outputs,
                context_mask=encoder_mask,
                return_attention_scores=return_attention_scores,
                training=training,
            )
            return result if return_attention_scores else (result, None)

        x, self_scores = self._residual(inputs, self.self_attention_norm, self_attend, training)
        x, cross_scores = self._residual(x, self.cross_attention_norm, cross_attend, training)
        x, _ = self._residual(x, self.mlp_norm, lambda h: (self._mlp(h, training), None), training)
        if return_attention_scores:
            return x, self_scores, cross_scores
        return x

    def compute_mask(self, inputs, encoder_outputs=None, mask=None, encoder_mask=None):
        return mask
