"""RandomShift: every output is its input shifted by whole pixels with zero fill."""

import keras
import numpy as np
import pytest
from conftest import to_numpy

from keraskit.layers import RandomShift


def shifts_that_explain(image, output, k):
    """All (row, column) offsets of the zero-padded image whose window equals the output."""
    padded = np.pad(image, ((k, k), (k, k), (0, 0)))
    height, width = image.shape[:2]
    return [
        (row, column)
        for row in range(2 * k + 1)
        for column in range(2 * k + 1)
        if np.array_equal(padded[row : row + height, column : column + width], output)
    ]


def test_each_image_is_a_zero_filled_shift_of_its_input(rng):
    images = rng.random((32, 7, 9, 2)).astype("float32")
    out = to_numpy(RandomShift(2, seed=3)(images, training=True))
    offsets = []
    for image, shifted in zip(images, out, strict=True):
        found = shifts_that_explain(image, shifted, 2)
        assert len(found) == 1  # random pixels: exactly one shift explains the output
        offsets.append(found[0])
    # Shifts differ from image to image and cover the range (25 possibilities, 32 draws).
    assert len(set(offsets)) > 8
    rows = {row for row, _ in offsets}
    assert rows <= set(range(5)) and len(rows) >= 3


def test_no_shift_at_inference_or_with_zero(rng):
    images = rng.random((4, 6, 6, 1)).astype("float32")
    np.testing.assert_array_equal(to_numpy(RandomShift(3)(images)), images)
    np.testing.assert_array_equal(to_numpy(RandomShift(0)(images, training=True)), images)


def test_keeps_the_training_step_compiled(rng):
    """With jit_compile="auto", a model with RandomShift compiles exactly like one without it."""
    x = rng.random((64, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 2, 64)

    def compiled(*augmentation):
        model = keras.Sequential(
            [keras.Input((8, 8, 1)), *augmentation, keras.layers.Flatten(), keras.layers.Dense(2)]
        )
        model.compile(
            "adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile="auto"
        )
        history = model.fit(x, y, batch_size=16, epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        return model.jit_compile

    without = compiled()
    assert compiled(RandomShift(1)) == without
    if keras.backend.backend() == "jax":  # Keras compiles every JAX step with XLA under "auto"...
        assert without is True
        # ...unless a layer says it cannot be: Keras's RandomTranslation, the case RandomShift avoids.
        assert compiled(keras.layers.RandomTranslation(0.1, 0.1)) is False


@pytest.mark.parametrize("bad", [-1, 1.5])
def test_rejects_bad_shift(bad):
    with pytest.raises(ValueError, match=rf"`max_shift` must be an integer >= 0. Received: max_shift={bad}"):
        RandomShift(bad)


def test_rejects_images_without_channels():
    layout = r"`images` of rank 4 with layout \(batch, height, width, channels\)"
    with pytest.raises(ValueError, match=layout):
        RandomShift(1)(np.zeros((2, 6, 6), "float32"), training=True)
