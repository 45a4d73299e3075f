"""Cutting images into patches: the tokenizer of a Vision Transformer.

A ViT reads an image the way a text Transformer reads a sentence: as a sequence
of tokens. The tokens are square patches, read in row-major order (left to
right, then top to bottom), each flattened into one vector.
"""

import keras
from keras import ops

from keraskit.validation import check_bool, check_positive_int, check_rank, to_pair


def _check_divisible(image_height, image_width, patch_size, layer):
    """Raise a `ValueError` when the image cannot be tiled by whole patches."""
    patch_height, patch_width = patch_size
    for side, size, patch in (
        ("height", image_height, patch_height),
        ("width", image_width, patch_width),
    ):
        if isinstance(size, int) and size % patch != 0:
            raise ValueError(
                f"{layer}: image {side} {size} is not divisible by the patch {side} "
                f"{patch} (`patch_size`={patch_size}); {size} = {size // patch} * {patch} "
                f"+ {size % patch}. Resize or crop the image to a multiple of {patch}."
            )


@keras.saving.register_keras_serializable(package="keraskit")
class Patches(keras.layers.Layer):
    """Cuts images into non-overlapping patches and flattens each patch.

    An image of `H x W` pixels with patches of `ph x pw` becomes a sequence of
    `(H / ph) * (W / pw)` tokens, in row-major order. Each token lists the
    patch's pixels row by row, with the channels of a pixel together, so
    `Patches` is a pure reshape: no weights, nothing learned.

    With `shifted=True` each token also carries what lies around its patch:
    the image is stacked with four copies of itself moved diagonally by half a
    patch (up-left, up-right, down-left, down-right; zeros fill the border)
    before it is cut, so every pixel brings five values, its own first. This is
    the input side of Shifted Patch Tokenization (Lee et al., 2021, "Vision
    Transformer for Small-Size Datasets"): each token sees past its patch's
    border, so neighbouring tokens share pixels, a locality a plain ViT has
    to learn from data.

    Args:
        patch_size: int or `(patch_height, patch_width)`.
        channels: optional number of channels the images must have; a model
            built for grey images then rejects colour ones with a clear message
            (`vit()` sets it). None accepts any.
        shifted: add the four diagonally shifted copies (see above); tokens are
            then five times as long.
        **kwargs: standard `keras.layers.Layer` arguments (`name`, `dtype`).

    Call arguments:
        images: tensor of shape `(batch, height, width, channels)`; height and
            width must be multiples of the patch height and width.

    Returns:
        Tensor of shape `(batch, num_patches, patch_height * patch_width * channels)`,
        with `5 * channels` in place of `channels` when `shifted`.

    Example:

    >>> import keras, numpy as np
    >>> images = np.zeros((2, 32, 48, 3), dtype="float32")
    >>> tuple(Patches(16)(images).shape)
    (2, 6, 768)
    >>> tuple(Patches(16, shifted=True)(images).shape)  # 768 values, 5 times
    (2, 6, 3840)
    """

    # The four copies of `shifted=True`, as the (rows, columns) direction of the pixel each
    # copy brings: (-1, -1) puts at every pixel the one half a patch up and to the left.
    DIAGONALS = ((-1, -1), (-1, 1), (1, -1), (1, 1))

    def __init__(self, patch_size, *, channels=None, shifted=False, **kwargs):
        super().__init__(**kwargs)
        self.patch_size = to_pair(patch_size, "patch_size")
        self.channels = None if channels is None else check_positive_int(channels, "channels")
        self.shifted = check_bool(shifted, "shifted")

    def _check_channels(self, shape):
        if self.channels is not None and shape[-1] is not None and shape[-1] != self.channels:
            raise ValueError(
                f"Patches expects images with {self.channels} channel(s) (`channels`="
                f"{self.channels}). Received images of shape {tuple(shape)}, with {shape[-1]} "
                f"channel(s). A model from `vit(channels={self.channels})` takes only such "
                f"images: build it with channels={shape[-1]} for these."
            )

    def build(self, input_shape):
        check_rank(input_shape, 4, "images", "Patches", "(batch, height, width, channels)")
        _check_divisible(input_shape[1], input_shape[2], self.patch_size, "Patches")
        self._check_channels(input_shape)

    def grid_size(self, image_height, image_width):
        """`(rows, columns)` of the patch grid for an image of this size."""
        _check_divisible(image_height, image_width, self.patch_size, "Patches")
        return image_height // self.patch_size[0], image_width // self.patch_size[1]

    def with_shifted_copies(self, images):
        """The images and their four diagonal shifts by half a patch, along the channels."""
        row_shift, column_shift = self.patch_size[0] // 2, self.patch_size[1] // 2
        height, width = ops.shape(images)[1], ops.shape(images)[2]
        # Pad by the shift on every side; each copy is then a window of the padded image.
        padded = ops.pad(images, [[0, 0], [row_shift, row_shift], [column_shift, column_shift], [0, 0]])
        copies = [images]
        for row_step, column_step in self.DIAGONALS:
            top, left = row_shift + row_step * row_shift, column_shift + column_step * column_shift
            copies.append(padded[:, top : top + height, left : left + width, :])
        return ops.concatenate(copies, axis=-1)

    def call(self, images):
        check_rank(images.shape, 4, "images", "Patches", "(batch, height, width, channels)")
        self._check_channels(images.shape)
        if self.shifted:
            images = self.with_shifted_copies(images)
        patch_height, patch_width = self.patch_size
        _, height, width, channels = ops.shape(images)
        _check_divisible(height, width, self.patch_size, "Patches")
        rows, columns = height // patch_height, width // patch_width
        # (B, H, W, C) -> (B, rows, ph, columns, pw, C): split each image axis
        # into "which patch" and "where inside the patch".
        x = ops.reshape(images, (-1, rows, patch_height, columns, patch_width, channels))
        # -> (B, rows, columns, ph, pw, C): patches first, pixels of a patch after.
        x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
        # -> (B, rows * columns, ph * pw * C): one flat vector per patch.
        return ops.reshape(x, (-1, rows * columns, patch_height * patch_width * channels))

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        patch_height, patch_width = self.patch_size
        num_patches = None
        if height is not None and width is not None:
            num_patches = (height // patch_height) * (width // patch_width)
        copies = 5 if self.shifted else 1
        return (batch, num_patches, patch_height * patch_width * channels * copies)

    def get_config(self):
        config = super().get_config()
        config.update({"patch_size": self.patch_size, "channels": self.channels, "shifted": self.shifted})
        return config


def unpatchify(patches, image_shape, patch_size):
    """Reassembles flattened patches into images: the inverse of `Patches`.

    Useful to draw what a model sees, or to turn per-patch predictions back into
    a picture. Tokens of `Patches(shifted=True)` come back as their five views
    stacked along the channels, `(batch, height, width, 5 * channels)`: the image
    first, then its four shifted copies (give `image_shape` as `(height, width)`).

    Args:
        patches: tensor of shape `(batch, num_patches, patch_height * patch_width * channels)`.
        image_shape: `(height, width)` or `(height, width, channels)` of the images.
        patch_size: int or `(patch_height, patch_width)`, as given to `Patches`.

    Returns:
        Tensor of shape `(batch, height, width, channels)`.

    Example:

    >>> import keras, numpy as np
    >>> images = np.random.rand(2, 8, 12, 3).astype("float32")
    >>> restored = unpatchify(Patches(4)(images), (8, 12), 4)
    >>> bool(np.allclose(keras.ops.convert_to_numpy(restored), images))
    True
    """
    patch_height, patch_width = to_pair(patch_size, "patch_size")
    if len(image_shape) not in (2, 3):
        raise ValueError(
            "`image_shape` must be (height, width) or (height, width, channels). "
            f"Received: image_shape={image_shape!r}"
        )
    height, width = int(image_shape[0]), int(image_shape[1])
    _check_divisible(height, width, (patch_height, patch_width), "unpatchify")
    check_rank(patches.shape, 3, "patches", "unpatchify", "(batch, num_patches, patch_values)")
    rows, columns = height // patch_height, width // patch_width
    num_patches, patch_values = patches.shape[1], patches.shape[2]
    channels = patch_values // (patch_height * patch_width)
    if num_patches != rows * columns or patch_values != patch_height * patch_width * channels:
        raise ValueError(
            f"unpatchify: an image of {height}x{width} with patch_size "
            f"{(patch_height, patch_width)} has {rows * columns} patches of "
            f"{patch_height}*{patch_width}*channels values. Received `patches` of "
            f"shape {tuple(patches.shape)}."
        )
    if len(image_shape) == 3 and int(image_shape[2]) != channels:
        raise ValueError(
            f"unpatchify: `image_shape` says {image_shape[2]} channels but each patch "
            f"holds {patch_values} = {patch_height}*{patch_width}*{channels} values."
        )
    # The exact reverse of Patches.call.
    x = ops.reshape(patches, (-1, rows, columns, patch_height, patch_width, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (-1, height, width, channels))


@keras.saving.register_keras_serializable(package="keraskit")
class PatchEmbedding(keras.layers.Layer):
    """Patches and their linear projection in one strided convolution.

    A `Conv2D` whose kernel is the patch size and whose stride is the patch
    size sees each patch exactly once and multiplies its pixels by one weight
    matrix: the same as `Patches` followed by `Dense`, computed by a
    convolution kernel. This is how most ViT implementations write it.

    Args:
        patch_size: int or `(patch_height, patch_width)`.
        hidden_dim: size of each patch's embedding (the model width).
        use_bias: whether the projection adds a bias.
        kernel_initializer: initializer of the convolution kernel.
        bias_initializer: initializer of the bias.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        images: tensor of shape `(batch, height, width, channels)`.

    Returns:
        Tensor of shape `(batch, num_patches, hidden_dim)`.

    Example:

    >>> import keras, numpy as np
    >>> tuple(PatchEmbedding(16, 768)(np.zeros((1, 224, 224, 3))).shape)
    (1, 196, 768)
    """

    def __init__(
        self,
        patch_size,
        hidden_dim,
        *,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.patch_size = to_pair(patch_size, "patch_size")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        self.use_bias = use_bias
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.projection = keras.layers.Conv2D(
            self.hidden_dim,
            kernel_size=self.patch_size,
            strides=self.patch_size,
            padding="valid",
            data_format="channels_last",
            use_bias=use_bias,
            kernel_initializer=self.kernel_initializer,
            bias_initializer=self.bias_initializer,
            dtype=self.dtype_policy,
            name="projection",
        )

    def build(self, input_shape):
        check_rank(input_shape, 4, "images", "PatchEmbedding", "(batch, height, width, channels)")
        _check_divisible(input_shape[1], input_shape[2], self.patch_size, "PatchEmbedding")
        self.projection.build(input_shape)

    def call(self, images):
        x = self.projection(images)  # (B, rows, columns, D)
        _, rows, columns, dim = ops.shape(x)
        return ops.reshape(x, (-1, rows * columns, dim))  # (B, N, D), row-major

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        num_patches = None
        if height is not None and width is not None:
            num_patches = (height // self.patch_size[0]) * (width // self.patch_size[1])
        return (batch, num_patches, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "patch_size": self.patch_size,
                "hidden_dim": self.hidden_dim,
                "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer),
            }
        )
        return config
