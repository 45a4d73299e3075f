"""Patches, unpatchify and PatchEmbedding against a NumPy reference."""

import keras
import numpy as np
import pytest
from conftest import to_numpy
from reference import patches as reference_patches

from keraskit.layers import PatchEmbedding, Patches, unpatchify


@pytest.mark.parametrize(
    "image_shape, patch_size",
    [((32, 32, 3), 8), ((28, 28, 1), 4), ((24, 36, 3), (6, 4)), ((16, 48, 2), (8, 16))],
)
def test_patches_match_numpy_row_major_reference(rng, image_shape, patch_size):
    images = rng.normal(size=(3, *image_shape)).astype("float32")
    ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
    got = to_numpy(Patches(patch_size)(images))
    np.testing.assert_array_equal(got, reference_patches(images, ph, pw))


def _shifted_reference(images, ph, pw):
    """Shifted patches pixel by pixel: each pixel's value, then the values half a patch
    away up-left, up-right, down-left and down-right (zero beyond the image)."""
    batch, height, width, channels = images.shape
    dy, dx = ph // 2, pw // 2
    out = np.zeros((batch, (height // ph) * (width // pw), ph * pw * channels * 5), images.dtype)
    for row in range(height):
        for column in range(width):
            token = (row // ph) * (width // pw) + column // pw
            start = ((row % ph) * pw + column % pw) * channels * 5
            for copy, (down, right) in enumerate([(0, 0), (-dy, -dx), (-dy, dx), (dy, -dx), (dy, dx)]):
                r, c = row + down, column + right
                if 0 <= r < height and 0 <= c < width:
                    out[:, token, start + copy * channels : start + (copy + 1) * channels] = images[:, r, c]
    return out


@pytest.mark.parametrize("image_shape, patch_size", [((28, 28, 1), 7), ((12, 16, 2), (4, 8)), ((9, 9, 3), 3)])
def test_shifted_patches_match_a_pixel_by_pixel_reference(rng, image_shape, patch_size):
    images = rng.normal(size=(2, *image_shape)).astype("float32")
    ph, pw = (patch_size, patch_size) if isinstance(patch_size, int) else patch_size
    layer = Patches(patch_size, shifted=True)
    got = to_numpy(layer(images))
    np.testing.assert_array_equal(got, _shifted_reference(images, ph, pw))
    assert tuple(layer.compute_output_shape((None, *image_shape))) == (None, *got.shape[1:])
    # The first value of each pixel is the pixel itself: the unshifted patches, interleaved.
    own = got.reshape(*got.shape[:2], ph * pw, 5, image_shape[-1])[..., 0, :]
    own = own.reshape(got.shape[0], got.shape[1], -1)
    np.testing.assert_array_equal(own, reference_patches(images, ph, pw))


def test_shifted_must_be_a_bool():
    with pytest.raises(ValueError, match="shifted=1"):
        Patches(4, shifted=1)


def test_patches_symbolic_batch_and_output_shape():
    inputs = keras.Input((24, 36, 3))
    outputs = Patches((6, 4))(inputs)
    assert tuple(outputs.shape) == (None, 4 * 9, 6 * 4 * 3)
    model = keras.Model(inputs, outputs)
    for batch in (1, 5):  # one model, any batch size
        assert tuple(model(np.zeros((batch, 24, 36, 3), "float32")).shape) == (batch, 36, 72)


def test_unpatchify_inverts_patches(rng):
    images = rng.normal(size=(2, 24, 36, 3)).astype("float32")
    restored = unpatchify(Patches((6, 4))(images), (24, 36, 3), (6, 4))
    np.testing.assert_array_equal(to_numpy(restored), images)


def test_unpatchify_of_shifted_patches_gives_the_image_then_its_shifted_copies(rng):
    images = rng.normal(size=(2, 12, 8, 3)).astype("float32")
    views = to_numpy(unpatchify(Patches(4, shifted=True)(images), (12, 8), 4))
    assert views.shape == (2, 12, 8, 15)
    np.testing.assert_array_equal(views[..., :3], images)
    # The first copy holds, at each pixel, the pixel 2 rows up and 2 columns left (zeros beyond).
    np.testing.assert_array_equal(views[:, 2:, 2:, 3:6], images[:, :-2, :-2])
    np.testing.assert_array_equal(views[:, :2, :, 3:6], 0)


def test_patch_embedding_equals_patches_then_dense_with_transferred_weights(rng):
    images = rng.normal(size=(2, 32, 48, 3)).astype("float32")
    conv_form = PatchEmbedding((8, 16), 24)
    expected = to_numpy(conv_form(images))
    kernel, bias = (to_numpy(w) for w in conv_form.projection.weights)  # (8, 16, 3, 24), (24,)
    dense = keras.layers.Dense(24)
    dense.build((None, 8 * 16 * 3))
    # A conv kernel indexed (row, column, channel, out) flattens in the order Patches uses.
    dense.set_weights([kernel.reshape(-1, 24), bias])
    got = to_numpy(dense(Patches((8, 16))(images)))
    assert expected.shape == (2, 4 * 3, 24)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_image_not_divisible_by_patch_size_names_both_sizes():
    with pytest.raises(ValueError, match=r"height 30 is not divisible by the patch height 4"):
        Patches(4)(np.zeros((1, 30, 30, 3), "float32"))
    with pytest.raises(ValueError, match=r"width 30 is not divisible"):
        keras.Model(*(lambda i: (i, Patches((5, 4))(i)))(keras.Input((30, 30, 3))))
    with pytest.raises(ValueError, match=r"not divisible"):
        PatchEmbedding(7, 16)(np.zeros((1, 32, 32, 3), "float32"))


def test_wrong_rank_names_expected_layout():
    with pytest.raises(ValueError, match=r"`images` of rank 4 .*Received `images` of shape \(32, 32, 3\)"):
        Patches(4)(np.zeros((32, 32, 3), "float32"))


@pytest.mark.parametrize("bad", [0, -2, (4,), (4, 4, 4), "four", None])
def test_bad_patch_size_is_rejected_with_the_value(bad):
    with pytest.raises(ValueError, match=r"`patch_size` must be a positive int or a pair of positive ints"):
        Patches(bad)


def test_unpatchify_rejects_mismatched_shapes():
    patches = np.zeros((1, 6, 48), "float32")
    with pytest.raises(ValueError, match=r"has 4 patches"):
        unpatchify(patches, (8, 8), 4)
