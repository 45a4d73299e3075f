"""Positional encodings: telling an order-blind attention layer where each token is.

Self-attention treats its input as a set: shuffle the tokens and the outputs
shuffle the same way. Adding a different vector to each position breaks that
symmetry. The vectors are either fixed formulas (sinusoidal, 2D sin-cos) or
learned weights.
"""

import math

import keras
import numpy as np
from keras import ops

from keraskit.validation import check_choice, check_positive_int, to_pair


def sinusoidal_encoding(length, hidden_dim, *, start_index=0, max_wavelength=10000.0):
    """The sinusoidal encoding of Vaswani et al. (2017), as a `(length, hidden_dim)` tensor.

    `PE[pos, 2i] = sin(pos / max_wavelength^(2i / hidden_dim))` and
    `PE[pos, 2i + 1] = cos(pos / max_wavelength^(2i / hidden_dim))`: each pair of
    dimensions is a clock turning at its own speed, from one turn every 2*pi
    positions down to one every `2*pi*max_wavelength`.

    Example:

    >>> encoding = sinusoidal_encoding(length=50, hidden_dim=16)
    >>> tuple(encoding.shape)
    (50, 16)
    """
    positions = ops.arange(length, dtype="float32") + ops.cast(start_index, "float32")
    dims = ops.arange(hidden_dim)
    pair_index = ops.cast(dims // 2, "float32")  # i in the formula: dims 2i and 2i+1 share it
    inverse_frequency = ops.power(max_wavelength, -2.0 * pair_index / hidden_dim)
    angles = positions[:, None] * inverse_frequency[None, :]  # (length, hidden_dim)
    return ops.where(dims % 2 == 0, ops.sin(angles), ops.cos(angles))


def sincos_2d_encoding(grid_size, hidden_dim, *, max_wavelength=10000.0):
    """A fixed 2D sin-cos encoding for a `(rows, columns)` grid of patches.

    The first half of the `hidden_dim` values encodes the row, the second half the
    column, each with 1D sines and cosines (`hidden_dim / 4` frequencies each), as in
    MAE (He et al. 2021) and "Better plain ViT baselines" (Beyer et al. 2022).
    Tokens are in row-major order, like `Patches`.

    Returns:
        Tensor of shape `(rows * columns, hidden_dim)`.

    Example:

    >>> tuple(sincos_2d_encoding((14, 14), 768).shape)
    (196, 768)
    """
    rows, columns = to_pair(grid_size, "grid_size")
    if hidden_dim % 4 != 0:
        raise ValueError(
            "`hidden_dim` must be divisible by 4 for a 2D sin-cos encoding (sin and cos, for "
            f"rows and for columns). Received: hidden_dim={hidden_dim}"
        )
    quarter = hidden_dim // 4
    frequency = ops.power(max_wavelength, -ops.arange(quarter, dtype="float32") / quarter)
    token = ops.arange(rows * columns)
    row = ops.cast(token // columns, "float32")[:, None] * frequency[None, :]
    column = ops.cast(token % columns, "float32")[:, None] * frequency[None, :]
    return ops.concatenate([ops.sin(row), ops.cos(row), ops.sin(column), ops.cos(column)], axis=-1)


def _check_sequence_input(shape, layer):
    if len(shape) < 2:
        raise ValueError(
            f"{layer} expects `inputs` of rank >= 2 with layout (..., sequence_length, "
            f"hidden_dim). Received `inputs` of shape {tuple(shape)}."
        )


@keras.saving.register_keras_serializable(package="keraskit")
class SinusoidalPositionEncoding(keras.layers.Layer):
    """Returns the sinusoidal position encoding to add to a sequence of embeddings.

    The fixed encoding of "Attention Is All You Need" (Vaswani et al., 2017);
    see `sinusoidal_encoding` for the formula. It has no weights, so it works
    for any sequence length. The layer returns the encoding (broadcast to the
    input's shape and dtype); you add it yourself, `x + encoding(x)`.

    Args:
        max_wavelength: the longest wavelength of the sines, 10000 in the paper.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(batch, sequence_length, hidden_dim)`.
        start_index: position of the first token, e.g. the number of tokens
            already decoded when generating one token at a time. Default 0.

    Returns:
        Tensor with the shape and dtype of `inputs`.

    Example:

    >>> import keras
    >>> x = keras.ops.zeros((2, 10, 32))
    >>> tuple((x + SinusoidalPositionEncoding()(x)).shape)
    (2, 10, 32)
    """

    def __init__(self, *, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        if max_wavelength <= 0:
            raise ValueError(f"`max_wavelength` must be positive. Received: max_wavelength={max_wavelength}")
        self.max_wavelength = float(max_wavelength)
        self.supports_masking = True  # the encoding keeps the inputs' padding

    def call(self, inputs, start_index=0):
        _check_sequence_input(inputs.shape, "SinusoidalPositionEncoding")
        shape = ops.shape(inputs)
        encoding = sinusoidal_encoding(
            shape[-2], shape[-1], start_index=start_index, max_wavelength=self.max_wavelength
        )
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_wavelength": self.max_wavelength})
        return config


@keras.saving.register_keras_serializable(package="keraskit")
class SinCos2DPositionEncoding(keras.layers.Layer):
    """Returns a fixed 2D sin-cos position encoding for a grid of patch tokens.

    Where a sentence has one axis, an image has two. This encoding gives each
    patch a vector made of a 1D sin-cos code of its row and one of its column
    (see `sincos_2d_encoding`), so patches in the same row or column look alike.
    Returns the encoding to add, like `SinusoidalPositionEncoding`.

    Args:
        grid_size: int or `(rows, columns)` of the patch grid.
        max_wavelength: the longest wavelength of the sines.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(batch, rows * columns, hidden_dim)`, `hidden_dim` divisible by 4.

    Returns:
        Tensor with the shape and dtype of `inputs`.

    Example:

    >>> import keras, numpy as np
    >>> x = np.zeros((1, 4 * 6, 8), dtype="float32")
    >>> tuple(SinCos2DPositionEncoding((4, 6))(x).shape)
    (1, 24, 8)
    """

    def __init__(self, grid_size, *, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.grid_size = to_pair(grid_size, "grid_size")
        self.max_wavelength = float(max_wavelength)
        self.supports_masking = True

    def call(self, inputs):
        _check_sequence_input(inputs.shape, "SinCos2DPositionEncoding")
        rows, columns = self.grid_size
        length = inputs.shape[-2]
        if length is not None and length != rows * columns:
            raise ValueError(
                f"SinCos2DPositionEncoding: `grid_size`={self.grid_size} has "
                f"{rows * columns} positions, but `inputs` has {length} tokens "
                f"(shape {tuple(inputs.shape)})."
            )
        encoding = sincos_2d_encoding(self.grid_size, inputs.shape[-1], max_wavelength=self.max_wavelength)
        return ops.broadcast_to(ops.cast(encoding, self.compute_dtype), ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"grid_size": self.grid_size, "max_wavelength": self.max_wavelength})
        return config


@keras.saving.register_keras_serializable(package="keraskit")
class LearnedPositionEmbedding(keras.layers.Layer):
    """Returns a learned position embedding to add to a sequence of embeddings.

    One trainable vector per position, as in BERT and ViT: the model learns
    whatever notion of position helps. It cannot go past `sequence_length`
    positions, unlike the fixed sinusoidal encoding.

    Args:
        sequence_length: the largest number of positions.
        initializer: initializer of the embeddings; normal with stddev 0.02,
            as in BERT and ViT.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        inputs: tensor of shape `(batch, length, hidden_dim)` with `length <= sequence_length`.
        start_index: first position to return (for decoding one token at a time).

    Returns:
        Tensor with the shape and dtype of `inputs`.

    Example:

    >>> import keras, numpy as np
    >>> x = np.zeros((2, 5, 16), dtype="float32")
    >>> tuple(LearnedPositionEmbedding(sequence_length=10)(x).shape)
    (2, 5, 16)
    """

    def __init__(self, sequence_length, *, initializer=None, **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = check_positive_int(sequence_length, "sequence_length")
        self.initializer = keras.initializers.get(initializer or keras.initializers.RandomNormal(stddev=0.02))
        self.supports_masking = True

    def build(self, input_shape):
        _check_sequence_input(input_shape, "LearnedPositionEmbedding")
        self.position_embeddings = self.add_weight(
            name="embeddings",
            shape=(self.sequence_length, input_shape[-1]),
            initializer=self.initializer,
        )

    def call(self, inputs, start_index=0):
        _check_sequence_input(inputs.shape, "LearnedPositionEmbedding")
        length = inputs.shape[-2]
        if length is not None and length > self.sequence_length:
            raise ValueError(
                f"LearnedPositionEmbedding has {self.sequence_length} positions "
                f"(`sequence_length`), but `inputs` has {length} tokens."
            )
        # A tensor start_index (inside a compiled decoding loop) cannot be checked here.
        if (
            isinstance(start_index, int)
            and length is not None
            and (start_index < 0 or start_index + length > self.sequence_length)
        ):
            raise ValueError(
                f"LearnedPositionEmbedding has positions 0..{self.sequence_length - 1}, but "
                f"`start_index`={start_index} with {length} tokens asks for positions "
                f"{start_index}..{start_index + length - 1}."
            )
        shape = ops.shape(inputs)
        embeddings = ops.slice(
            ops.convert_to_tensor(self.position_embeddings),
            (start_index, 0),
            (shape[-2], shape[-1]),
        )
        return ops.broadcast_to(ops.cast(embeddings, self.compute_dtype), shape)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer),
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keraskit")
class TokenAndPositionEmbedding(keras.layers.Layer):
    """Token embedding plus position embedding: the input layer of a text Transformer.

    Looks up each token id in an embedding table and adds where it stands in
    the sequence. With `mask_zero=True`, id 0 is padding: the layer emits a
    mask that Keras passes to the following layers (e.g. `TransformerBlock`),
    so attention ignores padded positions.

    Args:
        vocabulary_size: number of distinct token ids.
        sequence_length: longest sequence (used by the learned position embedding).
        hidden_dim: size of each embedding vector (the model width).
        mask_zero: whether id 0 is padding to be masked.
        position: `"learned"` (default) or `"sinusoidal"`.
        embeddings_initializer: initializer of the token embedding table.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        token_ids: integer tensor of shape `(batch, length)`.
        start_index: position of the first token, for decoding step by step.

    Returns:
        Tensor of shape `(batch, length, hidden_dim)`.

    Example:

    >>> import keras, numpy as np
    >>> layer = TokenAndPositionEmbedding(100, 8, hidden_dim=16, mask_zero=True)
    >>> ids = np.array([[5, 7, 9, 0, 0]])
    >>> tuple(layer(ids).shape)
    (1, 5, 16)
    >>> keras.ops.convert_to_numpy(layer.compute_mask(ids)).tolist()
    [[True, True, True, False, False]]
    """

    def __init__(
        self,
        vocabulary_size,
        sequence_length,
        *,
        hidden_dim,
        mask_zero=False,
        position="learned",
        embeddings_initializer="uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice(position, ("learned", "sinusoidal"), "position")
        self.vocabulary_size = check_positive_int(vocabulary_size, "vocabulary_size")
        self.sequence_length = check_positive_int(sequence_length, "sequence_length")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        self.mask_zero = bool(mask_zero)
        self.position = position
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.supports_masking = self.mask_zero
        self.token_embedding = keras.layers.Embedding(
            self.vocabulary_size,
            self.hidden_dim,
            embeddings_initializer=self.embeddings_initializer,
            mask_zero=self.mask_zero,
            dtype=self.dtype_policy,
            name="token_embedding",
        )
        if position == "learned":
            self.position_embedding = LearnedPositionEmbedding(
                self.sequence_length, dtype=self.dtype_policy, name="position_embedding"
            )
        else:
            self.position_embedding = SinusoidalPositionEncoding(
                dtype=self.dtype_policy, name="position_embedding"
            )

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(
                "TokenAndPositionEmbedding expects `token_ids` of rank 2 with layout "
                f"(batch, length). Received shape {tuple(input_shape)}."
            )
        self.token_embedding.build(input_shape)
        self.position_embedding.build((*input_shape, self.hidden_dim))

    def call(self, token_ids, start_index=0):
        tokens = self.token_embedding(token_ids)  # (B, T) -> (B, T, D)
        return tokens + self.position_embedding(tokens, start_index=start_index)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "vocabulary_size": self.vocabulary_size,
                "sequence_length": self.sequence_length,
                "hidden_dim": self.hidden_dim,
                "mask_zero": self.mask_zero,
                "position": self.position,
                "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
            }
        )
        return config


def grid_from_length(num_patches, layer):
    """`(side, side)` for a square grid of `num_patches`, or a ValueError."""
    side = math.isqrt(num_patches) if num_patches else 0
    if side * side != num_patches:
        raise ValueError(
            f"{layer}: {num_patches} patches do not form a square grid; pass "
            "`grid_size=(rows, columns)` for non-square images."
        )
    return side, side


# Keys' cubic convolution kernel with a = -0.75: the constant PyTorch's bicubic
# `interpolate` uses, and so the one Hugging Face and timm resize position embeddings with.
_CUBIC_A = -0.75


def _cubic_weights(t):
    """Weights of the 4 neighbours at offsets -1, 0, 1, 2 of a point `t` in [0, 1) past the left one."""
    a = _CUBIC_A

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return far(t + 1), near(t), near(1 - t), far(2 - t)


def bicubic_resize_matrix(in_size, out_size):
    """The `(out_size, in_size)` matrix that resizes one axis bicubically.

    `matrix @ values` samples `values` (length `in_size`) at `out_size` evenly
    spaced points with half-pixel centres (`align_corners=False`), repeating
    the edge values beyond the ends: what `torch.nn.functional.interpolate(...,
    mode="bicubic", align_corners=False)` computes. A 2D resize is one matrix
    per axis, so it costs two small matrix products and is the same on every
    backend.

    Example:

    >>> import numpy as np
    >>> bicubic_resize_matrix(3, 3)  # same size: the identity
    array([[1., 0., 0.],
           [0., 1., 0.],
           [0., 0., 1.]])
    >>> np.round(bicubic_resize_matrix(2, 4).sum(axis=1), 6)  # each row sums to 1
    array([1., 1., 1., 1.])
    """
    in_size = check_positive_int(in_size, "in_size")
    out_size = check_positive_int(out_size, "out_size")
    # Output pixel i covers [i, i + 1) in output units; its centre, in input units.
    source = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    left = np.floor(source).astype(int)
    matrix = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    for offset, weight in zip((-1, 0, 1, 2), _cubic_weights(source - left), strict=True):
        # Beyond the edges the edge value repeats, so its weight lands on the edge.
        np.add.at(matrix, (rows, np.clip(left + offset, 0, in_size - 1)), weight)
    return matrix


def interpolate_positions(positions, grid_size, new_grid_size):
    """Resizes a grid of position embeddings to a new grid, bicubically.

    A ViT learns one embedding per patch of its training grid. On images of
    another size the grid changes; resizing the embeddings like an image with
    `hidden_dim` channels keeps each one near the place it learned (as the ViT
    paper does to fine-tune at a higher resolution). The resize is the one
    Hugging Face's `interpolate_pos_encoding=True` and timm use, so a converted
    checkpoint gives their numbers.

    Args:
        positions: `(rows * columns, hidden_dim)` embeddings, row-major (no
            class token: it has no place in the image).
        grid_size: `(rows, columns)` of `positions`.
        new_grid_size: `(new_rows, new_columns)` wanted.

    Returns:
        Tensor `(new_rows * new_columns, hidden_dim)`, of the input's dtype.

    Example:

    >>> import numpy as np
    >>> positions = np.random.rand(4 * 4, 8).astype("float32")
    >>> tuple(interpolate_positions(positions, (4, 4), (6, 5)).shape)
    (30, 8)
    """
    rows, columns = to_pair(grid_size, "grid_size")
    new_rows, new_columns = to_pair(new_grid_size, "new_grid_size")
    positions = ops.convert_to_tensor(positions)
    if tuple(positions.shape[:1]) != (rows * columns,) or len(positions.shape) != 2:
        raise ValueError(
            f"interpolate_positions: a {rows}x{columns} grid needs positions of shape "
            f"({rows * columns}, hidden_dim). Received shape {tuple(positions.shape)}."
        )
    grid = ops.reshape(positions, (rows, columns, -1))
    row_matrix = ops.convert_to_tensor(bicubic_resize_matrix(rows, new_rows), positions.dtype)
    column_matrix = ops.convert_to_tensor(bicubic_resize_matrix(columns, new_columns), positions.dtype)
    # Resize the rows, then the columns: out[i, j] = sum_r,c R[i, r] C[j, c] grid[r, c].
    resized = ops.einsum("ir,jc,rcd->ijd", row_matrix, column_matrix, grid)
    return ops.reshape(resized, (new_rows * new_columns, -1))
