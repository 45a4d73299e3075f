"""Multi-head attention: every token looks at every other token and takes a weighted average.

`softmax(Q K^T / sqrt(d_k)) V`, computed by several heads in parallel, each with
its own projections, then concatenated and projected back to the model width.

Two code paths give the same numbers:
- the *fused* path calls `keras.ops.dot_product_attention`, which on a GPU runs
  a fused/flash kernel (cuDNN on JAX, SDPA on PyTorch) and never stores the
  `(T, T)` weight matrix;
- the *explicit* path writes the softmax out, in float32. It runs when the
  attention weights are asked for (`return_attention_scores=True`) or when
  attention dropout is active (the fused kernels have no dropout).
"""

import math

import keras
from keras import ops

from keraskit.layers._initializers import fresh
from keraskit.validation import check_positive_int, check_rank, check_rate

# What the explicit path puts in place of a masked logit before the softmax.
# Logits are float32 there, so this is far below any real logit yet finite.
_MASKED_LOGIT = -1e9


def causal_mask(query_length, key_length=None):
    """Boolean `(query_length, key_length)` mask: position t may look at positions <= t.

    Example:

    >>> import keras, numpy as np
    >>> keras.ops.convert_to_numpy(causal_mask(3)).astype(int).tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    key_length = query_length if key_length is None else key_length
    rows = ops.arange(query_length)[:, None]
    columns = ops.arange(key_length)[None, :]
    # With a longer key (cached past tokens), the last query sees every key.
    return rows + (key_length - query_length) >= columns


class _TokenwiseEinsumDense(keras.layers.EinsumDense):
    """An `EinsumDense` applied to each token alone, so a padding mask passes through it.

    Keras's `EinsumDense` cannot know that its equation keeps the token axis, so it
    drops masks (with a warning); these projections keep that axis by construction.
    Not registered or saved on its own: the attention layers rebuild it from their config.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.supports_masking = True


class _MultiHeadAttentionBase(keras.layers.Layer):
    """What self- and cross-attention share: arguments, projections, masks, the two attention paths.

    No `compute_output_shape`: Keras traces `call` on symbolic inputs instead, which
    also gets the `(outputs, weights)` pair right when scores are requested.
    """

    def __init__(
        self,
        num_heads,
        *,
        key_dim=None,
        attention_dropout=0.0,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int(num_heads, "num_heads")
        self.key_dim = None if key_dim is None else check_positive_int(key_dim, "key_dim")
        self.attention_dropout = check_rate(attention_dropout, "attention_dropout")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.supports_masking = True
        self.attention_dropout_layer = keras.layers.Dropout(
            self.attention_dropout, dtype=self.dtype_policy, name="attention_dropout"
        )

    def _head_dim(self, hidden_dim):
        """The per-head width: `key_dim`, or the model width split evenly across heads."""
        if self.key_dim is not None:
            return self.key_dim
        if hidden_dim % self.num_heads != 0:
            raise ValueError(
                f"{type(self).__name__}: `num_heads`={self.num_heads} does not divide the "
                f"input width {hidden_dim} ({hidden_dim} / {self.num_heads} = "
                f"{hidden_dim / self.num_heads:.3g}). Choose num_heads among the divisors "
                f"of {hidden_dim}, or pass `key_dim`."
            )
        return hidden_dim // self.num_heads

    def _projection(self, name, head_dim):
        """Tokens to heads, `(B, T, D) -> (B, T, N, H)`: one `(D, N, H)` kernel, as in Keras's MHA."""
        return _TokenwiseEinsumDense(
            "abc,cde->abde",  # b,t,D x D,N,H: Keras MHA's letters, so its numbers match to the bit
            output_shape=(None, self.num_heads, head_dim),
            bias_axes="de" if self.use_bias else None,
            kernel_initializer=fresh(self.kernel_initializer, name),
            bias_initializer=fresh(self.bias_initializer, name),
            dtype=self.dtype_policy,
            name=name,
        )

    def _output_projection(self, hidden_dim):
        """Heads back to tokens, `(B, T, N, H) -> (B, T, D)`: concatenating the heads and
        multiplying by one `(N H, D)` matrix, written as one einsum over heads and widths."""
        return _TokenwiseEinsumDense(
            "abcd,cde->abe",  # b,t,N,H x N,H,D
            output_shape=(None, hidden_dim),
            bias_axes="e" if self.use_bias else None,
            kernel_initializer=fresh(self.kernel_initializer, "output"),
            bias_initializer=fresh(self.bias_initializer, "output"),
            dtype=self.dtype_policy,
            name="output",
        )

    def _attention_mask(self, mask, query_length, key_length):
        """Turn a padding mask `(B, S)` or attention mask `(B, T, S)` into `(B, 1, T, S)` bools."""
        if mask is None:
            return None
        expected = (
            f"a padding mask (batch, {key_length}) or an attention mask (batch, {query_length}, {key_length})"
        )
        if len(mask.shape) == 2:
            if mask.shape[-1] is not None and key_length is not None and mask.shape[-1] != key_length:
                raise ValueError(
                    f"{type(self).__name__}: `mask` must be {expected}. "
                    f"Received `mask` of shape {tuple(mask.shape)}."
                )
            mask = ops.cast(mask, "bool")[:, None, None, :]  # every query sees the same keys
        elif len(mask.shape) == 3:
            wanted = (query_length, key_length)
            for got, want in zip(mask.shape[1:], wanted, strict=True):
                if got is not None and want is not None and got != want:
                    raise ValueError(
                        f"{type(self).__name__}: `mask` must be {expected}. "
                        f"Received `mask` of shape {tuple(mask.shape)}."
                    )
            mask = ops.cast(mask, "bool")[:, None, :, :]  # the same for every head
        else:
            raise ValueError(
                f"{type(self).__name__}: `mask` must be {expected}. "
                f"Received `mask` of shape {tuple(mask.shape)} (rank {len(mask.shape)})."
            )
        return mask

    def _attend(self, query, key, value, mask, use_causal_mask, return_scores, training):
        """Attention over heads. query `(B, T, N, H)`, key/value `(B, S, N, H)` -> `(B, T, N, H)`."""
        query_length, key_length = ops.shape(query)[1], ops.shape(key)[1]
        mask = self._attention_mask(mask, query.shape[1], key.shape[1])
        if use_causal_mask and mask is not None:
            mask = ops.logical_and(mask, causal_mask(query_length, key_length)[None, None])
        if mask is not None:
            # A query that may see no key at all (a fully padded sequence) would
            # divide 0 by 0 in the softmax. Let such a row see every key instead:
            # its output is then finite, and it is padding anyway.
            sees_something = ops.any(mask, axis=-1, keepdims=True)
            mask = ops.logical_or(mask, ops.logical_not(sees_something))
        scale = 1.0 / math.sqrt(query.shape[-1])
        dropout_active = bool(training) and self.attention_dropout > 0.0
        if not return_scores and not dropout_active:
            outputs = ops.dot_product_attention(
                query,
                key,
                value,
                mask=mask,
                scale=scale,
                # Pure causal attention uses the kernel's own causal flag (fastest).
                is_causal=bool(use_causal_mask) and mask is None,
            )
            return outputs, None
        # Explicit path. Logits and softmax in float32, even under mixed precision:
        # bfloat16 has 8 bits of mantissa, too few for exp() of large logits.
        logits = ops.einsum("btnh,bsnh->bnts", query, key)  # (B, N, T, S)
        logits = ops.cast(logits, "float32") * scale
        if mask is None and use_causal_mask:
            mask = causal_mask(query_length, key_length)[None, None]
        if mask is not None:
            logits = ops.where(mask, logits, _MASKED_LOGIT)
        weights = ops.softmax(logits, axis=-1)  # (B, N, T, S), float32, rows sum to 1
        dropped = self.attention_dropout_layer(weights, training=training)
        outputs = ops.einsum("bnts,bsnh->btnh", ops.cast(dropped, value.dtype), value)
        return outputs, weights

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "attention_dropout": self.attention_dropout,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keraskit")
class MultiHeadSelfAttention(_MultiHeadAttentionBase):
    """Multi-head self-attention: queries, keys and values all come from the same sequence.

    Each of `num_heads` heads projects the tokens to queries, keys and values
    of width `key_dim`, computes `softmax(Q K^T / sqrt(key_dim)) V`, and the
    heads' outputs are concatenated and projected back to the input width
    (Vaswani et al., 2017). The projections are Keras `EinsumDense` layers with
    the weight layout of `keras.layers.MultiHeadAttention` (query, key and
    value kernels `(hidden_dim, num_heads, key_dim)`, output kernel
    `(num_heads, key_dim, hidden_dim)`), so weights copy across one to one.

    Args:
        num_heads: number of attention heads.
        key_dim: width of each head; default `hidden_dim // num_heads`.
        attention_dropout: dropout rate on the attention weights.
        use_bias: whether the projections add a bias.
        kernel_initializer: initializer of the projection kernels.
        bias_initializer: initializer of the projection biases.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(batch, length, hidden_dim)`.
        mask: optional boolean padding mask `(batch, length)` (True = real token)
            or attention mask `(batch, length, length)` (True = may attend).
            Keras passes a padding mask automatically after a masking layer.
        use_causal_mask: if True, position t attends only to positions <= t.
        return_attention_scores: if True, also return the attention weights
            `(batch, num_heads, length, length)`, in float32.
        training: whether attention dropout is active.

    Returns:
        Tensor of shape `(batch, length, hidden_dim)`, and the attention weights if
        `return_attention_scores=True`.

    Example:

    >>> import keras, numpy as np
    >>> attention = MultiHeadSelfAttention(num_heads=4)
    >>> x = np.random.rand(2, 10, 32).astype("float32")
    >>> outputs, weights = attention(x, return_attention_scores=True)
    >>> tuple(outputs.shape), tuple(weights.shape)
    ((2, 10, 32), (2, 4, 10, 10))
    """

    def build(self, input_shape):
        check_rank(input_shape, 3, "inputs", "MultiHeadSelfAttention", "(batch, length, hidden_dim)")
        hidden_dim = input_shape[-1]
        head_dim = self._head_dim(hidden_dim)
        self.query_dense = self._projection("query", head_dim)
        self.key_dense = self._projection("key", head_dim)
        self.value_dense = self._projection("value", head_dim)
        for projection in (self.query_dense, self.key_dense, self.value_dense):
            projection.build(input_shape)
        self.output_dense = self._output_projection(hidden_dim)
        self.output_dense.build((*input_shape[:-1], self.num_heads, head_dim))

    def call(
        self,
        inputs,
        mask=None,
        use_causal_mask=False,
        return_attention_scores=False,
        training=None,
    ):
        check_rank(inputs.shape, 3, "inputs", "MultiHeadSelfAttention", "(batch, length, hidden_dim)")
        # Three projections straight into the (B, T, N, H) layout the attention kernels
        # read. Slicing q, k, v out of one (B, T, 3, N, H) product instead made this
        # layer's forward + backward 16% slower on eager PyTorch (350 vs 302 ms; batch
        # 64, 197 tokens, width 384, CPU) and the block up to 7% slower on JAX
        # (bench/attention.py).
        query = self.query_dense(inputs)  # (B, T, D) -> (B, T, N, H)
        key = self.key_dense(inputs)
        value = self.value_dense(inputs)
        outputs, weights = self._attend(
            query, key, value, mask, use_causal_mask, return_attention_scores, training
        )
        outputs = self.output_dense(outputs)  # (B, T, N, H) -> (B, T, D): heads concatenated
        return (outputs, weights) if return_attention_scores else outputs

    def compute_mask(self, inputs, mask=None):
        # A (B, T, T) attention mask describes pairs, not tokens: it does not carry over.
        return mask if mask is not None and len(mask.shape) == 2 else None


@keras.saving.register_keras_serializable(package="keraskit")
class MultiHeadCrossAttention(_MultiHeadAttentionBase):
    """Multi-head cross-attention: queries from one sequence, keys and values from another.

    A decoder uses it to read the encoder: each target token asks a question
    (query) and gathers an answer from the source tokens (keys and values).
    Same arguments, heads and weight layout as `MultiHeadSelfAttention`.

    Args:
        num_heads: number of attention heads.
        key_dim: width of each head; default `hidden_dim // num_heads`.
        attention_dropout: dropout rate on the attention weights.
        use_bias: whether the projections add a bias.
        kernel_initializer: initializer of the projection kernels.
        bias_initializer: initializer of the projection biases.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: the queries' sequence, `(batch, target_length, hidden_dim)`.
        context: the keys' and values' sequence, `(batch, source_length, context_dim)`.
        context_mask: optional padding mask of the context `(batch, source_length)`
            or attention mask `(batch, target_length, source_length)`. (Not called
            `mask`: Keras fills `mask` with the *queries'* padding automatically.)
        return_attention_scores: if True, also return the attention weights
            `(batch, num_heads, target_length, source_length)`.
        training: whether attention dropout is active.

    Returns:
        Tensor of shape `(batch, target_length, hidden_dim)`, and the weights if requested.

    Example:

    >>> import keras, numpy as np
    >>> attention = MultiHeadCrossAttention(num_heads=2)
    >>> target, source = np.ones((1, 3, 8)), np.ones((1, 5, 8))
    >>> tuple(attention(target, source).shape)
    (1, 3, 8)
    """

    def build(self, inputs_shape, context_shape=None):
        input_shape = inputs_shape
        check_rank(input_shape, 3, "inputs", "MultiHeadCrossAttention", "(batch, length, hidden_dim)")
        context_shape = input_shape if context_shape is None else context_shape
        hidden_dim = input_shape[-1]
        head_dim = self._head_dim(hidden_dim)
        self.query_dense = self._projection("query", head_dim)
        self.query_dense.build(input_shape)
        self.key_dense = self._projection("key", head_dim)
        self.value_dense = self._projection("value", head_dim)
        self.key_dense.build(context_shape)
        self.value_dense.build(context_shape)
        self.output_dense = self._output_projection(hidden_dim)
        self.output_dense.build((*input_shape[:-1], self.num_heads, head_dim))

    def call(self, inputs, context, context_mask=None, return_attention_scores=False, training=None):
        check_rank(inputs.shape, 3, "inputs", "MultiHeadCrossAttention", "(batch, length, hidden_dim)")
        check_rank(context.shape, 3, "context", "MultiHeadCrossAttention", "(batch, length, dim)")
        query = self.query_dense(inputs)  # (B, T, N, H)
        key = self.key_dense(context)  # (B, S, N, H)
        value = self.value_dense(context)  # (B, S, N, H)
        outputs, weights = self._attend(
            query, key, value, context_mask, False, return_attention_scores, training
        )
        outputs = self.output_dense(outputs)  # (B, T, D)
        return (outputs, weights) if return_attention_scores else outputs
