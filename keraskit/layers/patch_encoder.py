"""From flattened patches to the token sequence a ViT's Transformer reads."""

import keras
from keras import ops

from keraskit.layers._initializers import fresh
from keraskit.layers.position import grid_from_length, interpolate_positions, sincos_2d_encoding
from keraskit.validation import check_choice, check_positive_int, check_rank, check_rate, to_pair

# How a PatchEncoder tells the Transformer where each patch is.
POSITIONS = ("learned", "sincos2d", "none")


@keras.saving.register_keras_serializable(package="keraskit")
class PatchEncoder(keras.layers.Layer):
    """Projects patches to tokens, prepends a class token, and adds positions.

    The three steps that turn `Patches` output into a ViT's input sequence
    (Dosovitskiy et al., 2021, eq. 1):
    1. a linear projection of each flattened patch to `hidden_dim`;
    2. optionally a learnable class token in front, whose final state the
       classifier reads (and, for DeiT, a distillation token after it, whose
       final state a second head reads to imitate a teacher);
    3. position information: a learned embedding per position (default), a
       fixed 2D sin-cos encoding of the patch's row and column, or none at
       all (`"none"`: the tokens are then a set, and a model that averages
       them cannot tell one arrangement of the patches from another; lesson
       09 measures what that costs).

    Called on more patches than it was built for (a larger image), learned
    position embeddings are resized bicubically on their 2D grid, as in the
    paper's fine-tuning at higher resolution (`interpolate_positions`, the
    resize Hugging Face and timm use); the class token's embedding is kept.

    Args:
        hidden_dim: width of each token.
        grid_size: `(rows, columns)` of the patch grid; default: a square
            grid inferred from the number of patches.
        class_token: whether to prepend a learnable class token.
        distillation_token: whether to add a learnable distillation token
            after the class token (DeiT; Touvron et al., 2021). Needs `class_token`.
        position: `"learned"`, `"sincos2d"` or `"none"`.
        dropout: dropout rate on the tokens after positions are added.
        kernel_initializer: initializer of the projection kernel.
        position_initializer: initializer of the learned position embeddings
            (normal with stddev 0.02 by default, as in ViT).
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        patches: tensor of shape `(batch, num_patches, patch_values)`, from `Patches`.
        grid_size: `(rows, columns)` of these patches, when they do not form
            the grid the layer was built for and are not square.
        training: whether dropout is active.

    Returns:
        Tensor of shape `(batch, num_prefix_tokens + num_patches, hidden_dim)`:
        the class (and distillation) token first, then the patches in order.

    Example:

    >>> import numpy as np
    >>> patches = np.random.rand(2, 196, 768).astype("float32")
    >>> tuple(PatchEncoder(192, class_token=True)(patches).shape)
    (2, 197, 192)
    """

    def __init__(
        self,
        hidden_dim,
        *,
        grid_size=None,
        class_token=False,
        distillation_token=False,
        position="learned",
        dropout=0.0,
        kernel_initializer="glorot_uniform",
        position_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        check_choice(position, POSITIONS, "position")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        if position == "sincos2d" and self.hidden_dim % 4 != 0:
            raise ValueError(
                "`hidden_dim` must be divisible by 4 with position='sincos2d' (sin and cos, "
                f"for rows and for columns). Received: hidden_dim={hidden_dim}"
            )
        self.grid_size = None if grid_size is None else to_pair(grid_size, "grid_size")
        self.class_token = bool(class_token)
        self.distillation_token = bool(distillation_token)
        if self.distillation_token and not self.class_token:
            raise ValueError(
                "PatchEncoder: `distillation_token=True` needs `class_token=True` "
                "(DeiT reads the class token and the distillation token side by side)."
            )
        self.position = position
        self.dropout = check_rate(dropout, "dropout")
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.position_initializer = keras.initializers.get(
            position_initializer or keras.initializers.RandomNormal(stddev=0.02)
        )
        self.projection = keras.layers.Dense(
            self.hidden_dim,
            kernel_initializer=self.kernel_initializer,
            dtype=self.dtype_policy,
            name="projection",
        )
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def build(self, input_shape):
        check_rank(input_shape, 3, "patches", "PatchEncoder", "(batch, num_patches, patch_values)")
        num_patches = input_shape[1]
        if self.grid_size is None:
            if num_patches is None:
                raise ValueError(
                    "PatchEncoder needs the number of patches to build: pass `grid_size` "
                    f"or an input with a known length. Received shape {tuple(input_shape)}."
                )
            self.grid_size = grid_from_length(num_patches, "PatchEncoder")
        rows, columns = self.grid_size
        if num_patches is not None and num_patches != rows * columns:
            raise ValueError(
                f"PatchEncoder: `grid_size`={self.grid_size} has {rows * columns} patches, "
                f"but the input has {num_patches} (shape {tuple(input_shape)})."
            )
        self.projection.build(input_shape)
        if self.class_token:
            self.class_embedding = self.add_weight(
                name="class_token", shape=(self.hidden_dim,), initializer="zeros"
            )
        if self.distillation_token:
            # Not zeros: two identical zero tokens would stay identical forever.
            self.distillation_embedding = self.add_weight(
                name="distillation_token",
                shape=(self.hidden_dim,),
                initializer=fresh(self.position_initializer, "distillation_token"),
            )
        if self.position == "learned":
            self.position_embedding = self.add_weight(
                name="position_embedding",
                shape=(self.num_prefix_tokens + rows * columns, self.hidden_dim),
                initializer=fresh(self.position_initializer, "position_embedding"),
            )

    @property
    def num_prefix_tokens(self):
        """Tokens in front of the patches: the class token, and the distillation token."""
        return int(self.class_token) + int(self.distillation_token)

    @property
    def num_patches(self):
        """Number of patches of the grid the layer was built for."""
        return None if self.grid_size is None else self.grid_size[0] * self.grid_size[1]

    def _grid_for(self, num_patches, grid_size):
        if grid_size is not None:
            grid_size = to_pair(grid_size, "grid_size")
        elif num_patches == self.num_patches:
            grid_size = self.grid_size
        else:
            grid_size = grid_from_length(num_patches, "PatchEncoder")
        if grid_size[0] * grid_size[1] != num_patches:
            raise ValueError(
                f"PatchEncoder: `grid_size`={grid_size} has {grid_size[0] * grid_size[1]} "
                f"patches, but the input has {num_patches}."
            )
        return grid_size

    def positions_for_grid(self, grid_size):
        """Position vectors `(num_prefix_tokens + rows * columns, hidden_dim)` for a patch grid.

        For the grid the layer was built for, its own; for another, the learned
        grid resized bicubically (`interpolate_positions`), the prefix tokens'
        kept as they are. `keraskit.models.resize_vit` stores these in a copy.
        With `position="none"`, zeros.
        """
        prefix = self.num_prefix_tokens
        if self.position == "none":
            return ops.zeros((prefix + grid_size[0] * grid_size[1], self.hidden_dim))
        if self.position == "sincos2d":
            positions = sincos_2d_encoding(grid_size, self.hidden_dim)
            if prefix:  # the class and distillation tokens have no place in the image
                positions = ops.pad(positions, ((prefix, 0), (0, 0)))
            return positions
        positions = ops.convert_to_tensor(self.position_embedding)
        if tuple(grid_size) == tuple(self.grid_size):
            return positions
        # Resize the learned grid of embeddings like an image with D channels.
        grid = interpolate_positions(positions[prefix:], self.grid_size, grid_size)
        return ops.concatenate([positions[:prefix], ops.cast(grid, positions.dtype)], axis=0)

    def call(self, patches, grid_size=None, training=None):
        check_rank(patches.shape, 3, "patches", "PatchEncoder", "(batch, num_patches, patch_values)")
        num_patches = patches.shape[1]
        grid_size = self._grid_for(num_patches, grid_size)
        tokens = self.projection(patches)  # (B, N, P) -> (B, N, D)
        prefix = []
        if self.class_token:
            prefix.append(self.class_embedding)
        if self.distillation_token:
            prefix.append(self.distillation_embedding)
        if prefix:
            batch = ops.shape(tokens)[0]
            prefix = ops.stack([ops.cast(token, tokens.dtype) for token in prefix])[None]  # (1, P, D)
            prefix = ops.broadcast_to(prefix, (batch, self.num_prefix_tokens, self.hidden_dim))
            tokens = ops.concatenate([prefix, tokens], axis=1)  # (B, P + N, D)
        if self.position != "none":
            tokens = tokens + ops.cast(self.positions_for_grid(grid_size), tokens.dtype)[None]
        return self.dropout_layer(tokens, training=training)

    def compute_output_shape(self, input_shape):
        length = None if input_shape[1] is None else input_shape[1] + self.num_prefix_tokens
        return (input_shape[0], length, self.hidden_dim)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "hidden_dim": self.hidden_dim,
                "grid_size": self.grid_size,
                "class_token": self.class_token,
                "distillation_token": self.distillation_token,
                "position": self.position,
                "dropout": self.dropout,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "position_initializer": keras.initializers.serialize(self.position_initializer),
            }
        )
        return config
