"""Data augmentation that runs inside the compiled model, on the accelerator."""

import keras
from keras import ops

from keraskit.validation import check_positive_int, check_rank


@keras.saving.register_keras_serializable(package="keraskit")
class RandomShift(keras.layers.Layer):
    """Shifts each image by a random whole number of pixels, filling with zeros.

    A shifted photo shows the same object, so the label stays; training on
    shifted copies teaches a ViT, which has no built-in notion that
    neighbouring pixels belong together, that position does not change what
    an object is. It is the "pad and random-crop" augmentation of CIFAR
    training, done per image with two gathers, which costs little on any
    device and compiles with XLA. (Keras's `RandomTranslation` interpolates
    and declares itself not compilable, so with `jit_compile="auto"` it
    switches XLA off for the whole train step.)

    Args:
        max_shift: largest shift in pixels, up, down, left or right.
        seed: seed of the random shifts.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        images: `(batch, height, width, channels)`.
        training: shifts only in training; otherwise returns the images unchanged.

    Returns:
        Images of the same shape.

    Example:

    >>> import numpy as np
    >>> images = np.zeros((64, 6, 6, 1), "float32")
    >>> images[:, 2:4, 2:4] = 1.0  # a 2x2 square in the middle of each image
    >>> shifted = keras.ops.convert_to_numpy(RandomShift(2, seed=1)(images, training=True))
    >>> corners = np.array([np.argwhere(image[..., 0])[0] for image in shifted])  # top-left pixel
    >>> moves = np.abs(corners - 2).max(axis=1)  # how far each square moved
    >>> int(moves.max()), bool((moves > 0).any()), bool((shifted.sum(axis=(1, 2, 3)) == 4).all())
    (2, True, True)
    """

    def __init__(self, max_shift, *, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.max_shift = check_positive_int(max_shift, "max_shift", minimum=0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_jit = True

    def call(self, images, training=None):
        check_rank(images.shape, 4, "images", "RandomShift", "(batch, height, width, channels)")
        if not training or self.max_shift == 0:
            return images
        k = self.max_shift
        batch = ops.shape(images)[0]
        height, width = images.shape[1], images.shape[2]
        padded = ops.pad(images, ((0, 0), (k, k), (k, k), (0, 0)))  # (B, H + 2k, W + 2k, C)
        # Each image's window starts at a random offset in [0, 2k]: offset k is "no shift".
        offsets = keras.random.randint((batch, 2), 0, 2 * k + 1, seed=self.seed_generator)
        rows = ops.arange(height)[None, :] + offsets[:, :1]  # (B, H)
        columns = ops.arange(width)[None, :] + offsets[:, 1:]  # (B, W)
        picked_rows = ops.take_along_axis(padded, rows[:, :, None, None], axis=1)  # (B, H, W + 2k, C)
        return ops.take_along_axis(picked_rows, columns[:, None, :, None], axis=2)  # (B, H, W, C)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"max_shift": self.max_shift, "seed": self.seed})
        return config
