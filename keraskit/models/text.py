"""A Transformer encoder that classifies text: token ids in, one set of logits per text out."""

import keras

from keraskit.layers import TokenAndPositionEmbedding, TokenPooling, TransformerBlock


def text_classifier(
    vocabulary_size,
    sequence_length,
    num_classes=2,
    embedding_dim=64,
    depth=2,
    num_heads=4,
    mlp_dim=128,
    dropout=0.1,
    layer_norm_epsilon=1e-6,
    name="text_classifier",
):
    """Builds a Transformer encoder text classifier as a functional `keras.Model`.

    token ids -> `TokenAndPositionEmbedding(mask_zero=True)` -> `depth`
    pre-norm `TransformerBlock`s -> LayerNorm -> `TokenPooling("gap")` -> Dense.

    Id 0 is padding. The embedding turns it into a padding mask that Keras
    passes along by itself: the attention never looks at padded positions and
    the pooling averages the real tokens only, so extra padding does not change
    the prediction. Inputs may be shorter than `sequence_length` (the number of
    learned positions), never longer.

    Args:
        vocabulary_size: number of token ids, padding (0) included.
        sequence_length: the longest input, in tokens.
        num_classes: number of output classes.
        embedding_dim: width of every token vector.
        depth: number of Transformer blocks.
        num_heads: attention heads per block; must divide `embedding_dim`.
        mlp_dim: hidden width of each block's MLP.
        dropout: dropout rate inside the blocks.
        layer_norm_epsilon: epsilon of every LayerNorm.
        name: model name.

    Returns:
        A `keras.Model` from int token ids `(batch, length)`, `length <=
        sequence_length`, to float32 logits `(batch, num_classes)`.

    Example:

    >>> import numpy as np
    >>> model = text_classifier(vocabulary_size=100, sequence_length=16, embedding_dim=32)
    >>> ids = np.array([[5, 8, 13, 0, 0, 0]])
    >>> tuple(model(ids).shape)
    (1, 2)
    """
    for argument, value in (("vocabulary_size", vocabulary_size), ("sequence_length", sequence_length),
                            ("num_classes", num_classes), ("embedding_dim", embedding_dim),
                            ("depth", depth), ("num_heads", num_heads), ("mlp_dim", mlp_dim)):
        if int(value) != value or value < 1:
            raise ValueError(f"`{argument}` must be an integer >= 1. Received: {argument}={value}")
    if vocabulary_size < 2:
        raise ValueError("`vocabulary_size` must be >= 2: id 0 is padding, so at least one more "
                         f"id is needed for a word. Received: vocabulary_size={vocabulary_size}")
    if embedding_dim % num_heads != 0:
        raise ValueError(
            f"`num_heads`={num_heads} does not divide `embedding_dim`={embedding_dim}; each "
            f"head gets embedding_dim / num_heads channels. Choose num_heads among the "
            f"divisors of {embedding_dim}."
        )
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout}")

    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = TokenAndPositionEmbedding(vocabulary_size, sequence_length, embedding_dim,
                                  mask_zero=True, name="embedding")(token_ids)  # (B, T, D)
    for index in range(depth):
        # The padding mask rides along with x: Keras hands it to every block.
        x = TransformerBlock(num_heads, mlp_dim, dropout=dropout,
                             layer_norm_epsilon=layer_norm_epsilon, name=f"block_{index}")(x)
    x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="final_norm")(x)
    x = TokenPooling("gap", name="pooling")(x)  # (B, T, D) -> (B, D), real tokens only
    logits = keras.layers.Dense(num_classes, dtype="float32", name="head")(x)
    return keras.Model(token_ids, logits, name=name)
