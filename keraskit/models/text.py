"""A Transformer encoder that classifies text: token ids in, one set of logits per text out."""

import keras

from keraskit.layers import TokenAndPositionEmbedding, TokenPooling, TransformerBlock
from keraskit.validation import check_positive_int, check_transformer_arguments


def text_classifier(
    vocabulary_size,
    sequence_length,
    *,
    num_classes=2,
    hidden_dim=64,
    num_layers=2,
    num_heads=4,
    intermediate_dim=128,
    dropout=0.1,
    attention_dropout=0.0,
    layer_norm_epsilon=1e-6,
    name="text_classifier",
):
    """Builds a Transformer encoder text classifier as a functional `keras.Model`.

    token ids -> `TokenAndPositionEmbedding(mask_zero=True)` -> `num_layers`
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
        hidden_dim: width of every token vector.
        num_layers: number of Transformer blocks.
        num_heads: attention heads per block; must divide `hidden_dim`.
        intermediate_dim: hidden width of each block's MLP.
        dropout: dropout rate on activations inside the blocks.
        attention_dropout: dropout rate on attention weights.
        layer_norm_epsilon: epsilon of every LayerNorm.
        name: model name.

    Returns:
        A `keras.Model` from int token ids `(batch, length)`, `length <=
        sequence_length`, to float32 logits `(batch, num_classes)`.

    Example:

    >>> import numpy as np
    >>> model = text_classifier(vocabulary_size=100, sequence_length=16, hidden_dim=32)
    >>> ids = np.array([[5, 8, 13, 0, 0, 0]])
    >>> tuple(model(ids).shape)
    (1, 2)
    """
    vocabulary_size = check_positive_int(vocabulary_size, "vocabulary_size")
    if vocabulary_size < 2:
        raise ValueError(
            "`vocabulary_size` must be >= 2: id 0 is padding, so at least one more "
            f"id is needed for a word. Received: vocabulary_size={vocabulary_size}"
        )
    sequence_length = check_positive_int(sequence_length, "sequence_length")
    num_classes = check_positive_int(num_classes, "num_classes")
    check_transformer_arguments(
        hidden_dim=hidden_dim,
        num_layers=num_layers,
        num_heads=num_heads,
        intermediate_dim=intermediate_dim,
        dropout=dropout,
        attention_dropout=attention_dropout,
        layer_norm_epsilon=layer_norm_epsilon,
    )

    token_ids = keras.Input((None,), dtype="int32", name="token_ids")
    x = TokenAndPositionEmbedding(
        vocabulary_size, sequence_length, hidden_dim=hidden_dim, mask_zero=True, name="embedding"
    )(token_ids)  # (B, T, D)
    for index in range(num_layers):
        # The padding mask rides along with x: Keras hands it to every block.
        x = TransformerBlock(
            num_heads,
            intermediate_dim=intermediate_dim,
            dropout=dropout,
            attention_dropout=attention_dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            name=f"block_{index}",
        )(x)
    x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="final_norm")(x)
    x = TokenPooling("gap", name="pooling")(x)  # (B, T, D) -> (B, D), real tokens only
    logits = keras.layers.Dense(num_classes, dtype="float32", name="head")(x)
    return keras.Model(token_ids, logits, name=name)
