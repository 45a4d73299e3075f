"""Random patch masking: the pretext task of a masked autoencoder (He et al., 2021)."""

import keras
from keras import ops

from keraskit.validation import check_rank


def num_visible(num_patches, mask_ratio):
    """How many of `num_patches` patches stay visible when `mask_ratio` of them are hidden.

    MAE keeps `int(num_patches * (1 - mask_ratio))`, and at least one patch, so
    the encoder always has something to read.

    >>> num_visible(49, 0.75), num_visible(16, 0.75), num_visible(4, 0.9)
    (12, 4, 1)
    """
    return max(1, int(num_patches * (1.0 - mask_ratio)))


def visible_positions(noise, count):
    """The `count` patches with the smallest noise, in reading order: `(batch, count)` indices.

    Sorting random noise and keeping the first `count` indices is a uniform
    random subset of the patches, drawn for each image on its own without a
    loop (MAE's "random shuffle"). The kept indices are then sorted so the
    visible patches keep their order in the image, which makes them easy to
    read and to check; the encoder does not care about the order, because each
    token already carries its position.
    """
    return ops.sort(ops.argsort(noise, axis=-1)[:, :count], axis=-1)


def gather_tokens(tokens, indices):
    """`tokens[b, indices[b]]` for every image b: `(batch, count, hidden_dim)`."""
    indices = ops.cast(indices, "int32")[:, :, None]
    indices = ops.broadcast_to(indices, (ops.shape(tokens)[0], ops.shape(indices)[1], ops.shape(tokens)[2]))
    return ops.take_along_axis(tokens, indices, axis=1)


@keras.saving.register_keras_serializable(package="keraskit")
class RandomPatchMasking(keras.layers.Layer):
    """Hides a random subset of patch tokens and returns the visible ones.

    A masked autoencoder (MAE; He et al., 2021) learns without labels by hiding
    most of an image's patches (75% in the paper) and reconstructing them from
    the rest. The encoder reads only the visible tokens, which is what makes
    MAE cheap: with 75% hidden, its Transformer sees a quarter of the sequence.
    Each image gets its own random subset.

    Unlike `Dropout`, the layer masks at inference too: hiding patches is the
    task the model is trained on, not a regulariser, and a reconstruction can
    only be shown for patches that were hidden.

    Args:
        mask_ratio: fraction of the patches to hide, in (0, 1).
        seed: optional int seed for the random subsets.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        tokens: `(batch, num_patches, hidden_dim)` patch tokens, positions
            already added (without a class token).
        noise: optional `(batch, num_patches)` floats; the patches with the
            smallest noise stay visible. Default: uniform noise drawn from the
            layer's seed. Pass your own to get the same mask twice.

    Returns:
        A tuple `(visible, kept, mask)`:
        - `visible`: `(batch, num_visible, hidden_dim)`, the kept tokens in order;
        - `kept`: `(batch, num_visible)` int32 indices of the kept patches, ascending;
        - `mask`: `(batch, num_patches)` float, 1.0 where a patch is hidden.

    Example:

    >>> import numpy as np
    >>> tokens = np.arange(2 * 4 * 3, dtype="float32").reshape(2, 4, 3)
    >>> noise = np.array([[0.9, 0.1, 0.5, 0.3], [0.2, 0.8, 0.4, 0.6]], dtype="float32")
    >>> visible, kept, mask = RandomPatchMasking(0.5)(tokens, noise=noise)
    >>> keras.ops.convert_to_numpy(kept).tolist()
    [[1, 3], [0, 2]]
    >>> keras.ops.convert_to_numpy(mask).tolist()
    [[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 1.0]]
    >>> keras.ops.convert_to_numpy(visible)[0].tolist()
    [[3.0, 4.0, 5.0], [9.0, 10.0, 11.0]]
    """

    def __init__(self, mask_ratio=0.75, *, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(mask_ratio, bool) or not isinstance(mask_ratio, (int, float)) or not 0 < mask_ratio < 1:
            raise ValueError(
                "`mask_ratio` is the fraction of patches to hide: a number strictly between 0 and 1 "
                f"(MAE uses 0.75). Received: mask_ratio={mask_ratio!r}"
            )
        self.mask_ratio = float(mask_ratio)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, tokens, noise=None):
        check_rank(tokens.shape, 3, "tokens", "RandomPatchMasking", "(batch, num_patches, hidden_dim)")
        num_patches = tokens.shape[1]
        if num_patches is None:
            raise ValueError("RandomPatchMasking needs a known number of patches (axis 1 of `tokens`).")
        batch = ops.shape(tokens)[0]
        if noise is None:
            noise = keras.random.uniform((batch, num_patches), seed=self.seed_generator)
        elif tuple(noise.shape[1:]) != (num_patches,):
            raise ValueError(
                f"RandomPatchMasking: `noise` must be (batch, {num_patches}), one number per patch. "
                f"Received shape {tuple(noise.shape)}."
            )
        kept = ops.cast(visible_positions(noise, num_visible(num_patches, self.mask_ratio)), "int32")
        # 1.0 for every patch not among the kept ones.
        mask = 1.0 - ops.sum(ops.one_hot(kept, num_patches, dtype=self.compute_dtype), axis=1)
        return gather_tokens(tokens, kept), kept, mask

    def compute_output_spec(self, tokens, noise=None):
        batch, num_patches, hidden_dim = tokens.shape
        count = None if num_patches is None else num_visible(num_patches, self.mask_ratio)
        return (
            keras.KerasTensor((batch, count, hidden_dim), dtype=tokens.dtype),
            keras.KerasTensor((batch, count), dtype="int32"),
            keras.KerasTensor((batch, num_patches), dtype=self.compute_dtype),
        )

    def get_config(self):
        config = super().get_config()
        config.update({"mask_ratio": self.mask_ratio, "seed": self.seed})
        return config
