"""An encoder-decoder Transformer (Vaswani et al., 2017) for sequence-to-sequence tasks."""

import keras
import numpy as np

from keraskit.layers import TokenAndPositionEmbedding, TransformerBlock, TransformerDecoderBlock
from keraskit.validation import check_positive_int, check_transformer_arguments


def seq2seq_transformer(
    source_vocabulary_size,
    target_vocabulary_size,
    *,
    source_length,
    target_length,
    hidden_dim=64,
    num_layers=2,
    num_heads=4,
    intermediate_dim=128,
    dropout=0.1,
    attention_dropout=0.0,
    name="seq2seq_transformer",
):
    """Builds an encoder-decoder Transformer as a functional `keras.Model`.

    Encoder: source ids -> `TokenAndPositionEmbedding(mask_zero=True)` ->
    `num_layers` `TransformerBlock`s -> LayerNorm. Decoder: target ids ->
    `TokenAndPositionEmbedding` -> `num_layers` `TransformerDecoderBlock`s (causal
    self-attention, then cross-attention to the encoder outputs with the
    source padding masked out) -> LayerNorm -> Dense logits over the target
    vocabulary. Id 0 is padding in the source. The target needs no padding
    mask: padding comes after the real tokens, and causal attention never
    looks forward.

    Args:
        source_vocabulary_size: number of source token ids (0 is padding).
        target_vocabulary_size: number of target token ids.
        source_length: longest source sequence.
        target_length: longest decoder input sequence.
        hidden_dim: width of every token, in encoder and decoder.
        num_layers: number of blocks in the encoder and in the decoder.
        num_heads: attention heads per block; must divide `hidden_dim`.
        intermediate_dim: hidden width of each block's MLP.
        dropout: dropout rate on activations in the blocks.
        attention_dropout: dropout rate on attention weights.
        name: model name.

    Returns:
        A `keras.Model` from `[source_ids (batch, source_length), target_ids
        (batch, target_length)]` to logits `(batch, target_length,
        target_vocabulary_size)`, in float32. Logits at position t predict
        target token t + 1 and depend only on target tokens 0..t.

    Example:

    >>> model = seq2seq_transformer(40, 13, source_length=4, target_length=4,
    ...                             hidden_dim=16, num_layers=1, num_heads=2, intermediate_dim=32)
    >>> model.output_shape
    (None, 4, 13)
    """
    for name, value in (
        ("source_vocabulary_size", source_vocabulary_size),
        ("target_vocabulary_size", target_vocabulary_size),
        ("source_length", source_length),
        ("target_length", target_length),
    ):
        check_positive_int(value, name)
    check_transformer_arguments(
        hidden_dim=hidden_dim,
        num_layers=num_layers,
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        attention_dropout=attention_dropout,
    )
    block_args = dict(intermediate_dim=intermediate_dim, dropout=dropout, attention_dropout=attention_dropout)

    source_ids = keras.Input((source_length,), dtype="int32", name="source_ids")
    target_ids = keras.Input((target_length,), dtype="int32", name="target_ids")

    # Encoder: every source word attends to every other (padding masked out).
    x = TokenAndPositionEmbedding(
        source_vocabulary_size, source_length, hidden_dim=hidden_dim, mask_zero=True, name="source_embedding"
    )(source_ids)
    for index in range(num_layers):
        x = TransformerBlock(num_heads, name=f"encoder_block_{index}", **block_args)(x)
    encoder_outputs = keras.layers.LayerNormalization(epsilon=1e-6, name="encoder_norm")(x)
    source_mask = keras.ops.not_equal(source_ids, 0)  # (B, S): True for real words

    # Decoder: causal self-attention over the target so far, cross-attention to the source.
    y = TokenAndPositionEmbedding(
        target_vocabulary_size, target_length, hidden_dim=hidden_dim, name="target_embedding"
    )(target_ids)
    for index in range(num_layers):
        y = TransformerDecoderBlock(num_heads, name=f"decoder_block_{index}", **block_args)(
            y, encoder_outputs, encoder_mask=source_mask
        )
    y = keras.layers.LayerNormalization(epsilon=1e-6, name="decoder_norm")(y)
    logits = keras.layers.Dense(target_vocabulary_size, dtype="float32", name="logits")(y)
    return keras.Model([source_ids, target_ids], logits, name=name)


def greedy_decode(model, source_ids, *, start_id, end_id, max_length, pad_id=0):
    """Writes target sequences one token at a time, always taking the most likely token.

    Starts every sequence with `start_id`; at step t runs the model on the
    prefix so far (padded with `pad_id` to the model's target length, which
    causal attention never reads) and appends the argmax of the logits at
    position t. A sequence that has produced `end_id` is finished (later
    positions get `pad_id`); decoding stops when all are finished or after
    `max_length` tokens. Simple, not fast: each step re-runs the whole
    decoder on the whole prefix, with no cache of earlier keys and values.

    Args:
        model: a model like `seq2seq_transformer()`'s: `[source_ids, target_ids]`
            -> logits `(batch, target_length, vocabulary)`.
        source_ids: `(batch, source_length)` integer array.
        start_id: id that starts every target.
        end_id: id that ends a target.
        max_length: most tokens to generate; at most the model's target length.
        pad_id: id written after a sequence has ended.

    Returns:
        NumPy int array `(batch, steps)`: the generated ids (without the start
        token), `end_id` included where produced, `steps <= max_length`.

    Example:

    >>> import numpy as np
    >>> model = seq2seq_transformer(10, 6, source_length=3, target_length=4,
    ...                             hidden_dim=8, num_layers=1, num_heads=2, intermediate_dim=16)
    >>> ids = greedy_decode(model, np.array([[3, 4, 0]]), start_id=1, end_id=2, max_length=4)
    >>> ids.shape[0], ids.shape[1] <= 4
    (1, True)
    """
    source_ids = np.asarray(keras.ops.convert_to_numpy(source_ids))
    if source_ids.ndim != 2:
        raise ValueError(f"`source_ids` must have shape (batch, source_length). Received: {source_ids.shape}")
    if len(model.inputs) != 2:
        raise ValueError("`model` must take two inputs, [source_ids, target_ids].")
    target_length = model.inputs[1].shape[1]
    max_length = int(max_length)
    if not 1 <= max_length <= target_length:
        raise ValueError(
            f"`max_length` must be in [1, {target_length}] (the model's target length). "
            f"Received: max_length={max_length}"
        )
    batch = source_ids.shape[0]
    prefix = np.full((batch, target_length), pad_id, dtype="int32")
    prefix[:, 0] = start_id
    generated = np.full((batch, max_length), pad_id, dtype="int32")
    finished = np.zeros(batch, dtype=bool)
    for step in range(max_length):
        logits = model([source_ids, prefix], training=False)  # (B, T, vocabulary)
        next_ids = np.argmax(keras.ops.convert_to_numpy(logits[:, step, :]), axis=-1)
        next_ids = np.where(finished, pad_id, next_ids).astype("int32")
        generated[:, step] = next_ids
        finished |= next_ids == end_id
        if step + 1 < target_length:
            prefix[:, step + 1] = next_ids
        if finished.all():
            return generated[:, : step + 1]
    return generated
