"""RandomPatchMasking, MAEDecoder and MaskedAutoencoder against NumPy and the paper's rules."""

import keras
import numpy as np
import pytest
from conftest import to_numpy

from keraskit.layers import Patches, RandomPatchMasking
from keraskit.layers.masking import num_visible
from keraskit.models import MAEDecoder, MaskedAutoencoder, masked_reconstruction_loss, vit
from keraskit.models.masked_autoencoder import scatter_tokens


def _encoder(pooling="gap", **kwargs):
    sizes = dict(image_size=16, patch_size=4, channels=1, num_classes=None, hidden_dim=16,
                 num_layers=2, num_heads=2, intermediate_dim=32)  # fmt: skip
    return vit(**sizes, pooling=pooling, include_top=False, **kwargs)


def test_masking_keeps_the_patches_with_the_smallest_noise_like_numpy(rng):
    tokens = rng.normal(size=(3, 10, 4)).astype("float32")
    noise = rng.random((3, 10)).astype("float32")
    visible, kept, mask = RandomPatchMasking(0.7)(tokens, noise=noise)

    count = 3  # int(10 * 0.3)
    expected_kept = np.sort(np.argsort(noise, axis=1)[:, :count], axis=1)
    np.testing.assert_array_equal(to_numpy(kept), expected_kept)
    np.testing.assert_array_equal(
        to_numpy(visible), np.stack([tokens[b, expected_kept[b]] for b in range(3)])
    )
    expected_mask = np.ones((3, 10), "float32")
    for b in range(3):
        expected_mask[b, expected_kept[b]] = 0.0
    np.testing.assert_array_equal(to_numpy(mask), expected_mask)


def test_visible_count_follows_the_paper():
    assert [num_visible(n, 0.75) for n in (196, 49, 16, 2)] == [49, 12, 4, 1]


def test_each_image_gets_its_own_uniformly_random_subset():
    tokens = np.zeros((400, 8, 2), "float32")
    _, kept, mask = RandomPatchMasking(0.75, seed=3)(tokens)
    mask = to_numpy(mask)
    assert (mask.sum(axis=1) == 6).all()  # 2 of 8 kept in every image
    assert len({tuple(row) for row in to_numpy(kept)}) > 20  # not one subset for all
    # Each patch is kept with probability 2/8; 400 draws give a standard error of 0.022.
    np.testing.assert_allclose(1.0 - mask.mean(axis=0), 0.25, atol=0.09)


@pytest.mark.parametrize("mask_ratio", [0.0, 1.0, 1.5, -0.1, "0.75", True])
def test_a_mask_ratio_outside_zero_one_is_refused(mask_ratio):
    with pytest.raises(ValueError, match="strictly between 0 and 1.*Received"):
        RandomPatchMasking(mask_ratio)


def test_noise_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"noise.*\(batch, 6\)"):
        RandomPatchMasking(0.5)(np.zeros((2, 6, 4), "float32"), noise=np.zeros((2, 5), "float32"))


def test_reconstruction_loss_matches_the_formula_on_hidden_patches_only(rng):
    patches = rng.normal(size=(2, 5, 6)).astype("float32") * 3 + 1
    predictions = rng.normal(size=(2, 5, 6)).astype("float32")
    mask = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 1, 1]], "float32")

    targets = (patches - patches.mean(-1, keepdims=True)) / np.sqrt(patches.var(-1, keepdims=True) + 1e-6)
    per_patch = ((predictions - targets) ** 2).mean(-1)
    expected = (per_patch * mask).sum() / mask.sum()
    got = masked_reconstruction_loss(patches, predictions, mask)
    np.testing.assert_allclose(float(to_numpy(got)), expected, rtol=1e-5)

    raw = (((predictions - patches) ** 2).mean(-1) * mask).sum() / mask.sum()
    got = masked_reconstruction_loss(patches, predictions, mask, normalize_targets=False)
    np.testing.assert_allclose(float(to_numpy(got)), raw, rtol=1e-5)


def test_reconstruction_loss_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        masked_reconstruction_loss(np.zeros((1, 4, 3)), np.zeros((1, 4, 2)), np.zeros((1, 4)))


def test_scatter_puts_each_token_at_its_patch_index(rng):
    visible = rng.normal(size=(2, 3, 4)).astype("float32")
    kept = np.array([[0, 4, 5], [1, 2, 3]])
    expected = np.zeros((2, 6, 4), "float32")
    for b in range(2):
        expected[b, kept[b]] = visible[b]
    np.testing.assert_allclose(to_numpy(scatter_tokens(visible, kept, 6)), expected, atol=1e-6)


def test_decoder_output_does_not_depend_on_the_order_of_the_visible_tokens(rng):
    """Each token goes to its own place: shuffling (token, index) pairs together changes nothing."""
    decoder = MAEDecoder(patch_values=8, grid_size=(3, 3), hidden_dim=8, num_layers=1, num_heads=2)
    encoded = rng.normal(size=(2, 4, 12)).astype("float32")
    kept = np.array([[0, 2, 5, 7], [1, 3, 4, 8]])
    shuffle = [2, 0, 3, 1]
    first = to_numpy(decoder(encoded, kept))
    second = to_numpy(decoder(encoded[:, shuffle], kept[:, shuffle]))
    assert first.shape == (2, 9, 8)
    np.testing.assert_allclose(first, second, atol=1e-5)


def test_decoder_width_must_suit_its_sincos_positions():
    with pytest.raises(ValueError, match="divisible by 4"):
        MAEDecoder(patch_values=8, grid_size=(3, 3), hidden_dim=6)


@pytest.mark.parametrize("pooling", ["gap", "cls"])
def test_the_encoder_never_sees_the_hidden_patches(rng, pooling):
    """Changing the pixels of hidden patches leaves the reconstruction unchanged; a visible one does not."""
    mae = MaskedAutoencoder(_encoder(pooling), decoder_dim=8, decoder_heads=2)
    images = rng.random((1, 16, 16, 1)).astype("float32")
    noise = rng.random((1, 16)).astype("float32")
    base = mae(images, noise=noise)
    mask = to_numpy(base["mask"])[0]
    hidden, visible = int(np.argmax(mask)), int(np.argmin(mask))

    def change_patch(index):
        changed = images.copy()
        row, column = divmod(index, 4)
        changed[0, 4 * row : 4 * row + 4, 4 * column : 4 * column + 4] += 5.0
        return to_numpy(mae(changed, noise=noise)["predictions"])

    np.testing.assert_allclose(change_patch(hidden), to_numpy(base["predictions"]), atol=1e-5)
    assert np.abs(change_patch(visible) - to_numpy(base["predictions"])).max() > 1e-3


def test_fit_trains_the_shared_encoder_and_lowers_the_loss(rng):
    encoder = _encoder()
    before = [to_numpy(weight).copy() for weight in encoder.weights]
    mae = MaskedAutoencoder(encoder, decoder_dim=8, decoder_heads=2, seed=0)
    mae.compile(optimizer=keras.optimizers.Adam(3e-3))
    # Images made of two flat halves: easy to guess from a few patches.
    images = np.zeros((64, 16, 16, 1), "float32")
    images[:, :8] = rng.random((64, 1, 1, 1))
    images[:, 8:] = rng.random((64, 1, 1, 1))
    history = mae.fit(images, batch_size=16, epochs=8, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses
    changed = [not np.allclose(old, to_numpy(new)) for old, new in zip(before, encoder.weights, strict=True)]
    assert sum(changed) > len(changed) // 2  # the encoder object itself was trained
    assert {id(weight) for weight in encoder.weights} <= {id(weight) for weight in mae.weights}


def test_reconstruct_keeps_the_visible_patches_and_fills_the_hidden_ones(rng):
    mae = MaskedAutoencoder(_encoder(), decoder_dim=8, decoder_heads=2, mask_ratio=0.5)
    images = rng.random((2, 16, 16, 1)).astype("float32")
    reconstructed, mask = mae.reconstruct(images)
    patches_in = to_numpy(Patches(4)(images))
    patches_out = to_numpy(Patches(4)(reconstructed))
    mask = to_numpy(mask).astype(bool)
    assert mask.sum() == 16  # 8 of 16 hidden in each of 2 images
    np.testing.assert_allclose(patches_out[~mask], patches_in[~mask], atol=1e-5)
    assert np.abs(patches_out[mask] - patches_in[mask]).max() > 1e-3


def test_keras_file_round_trip_keeps_the_weights_and_settings(tmp_path, rng):
    mae = MaskedAutoencoder(_encoder("cls"), mask_ratio=0.6, decoder_dim=8, decoder_heads=2, seed=5)
    images = rng.random((2, 16, 16, 1)).astype("float32")
    noise = rng.random((2, 16)).astype("float32")
    expected = to_numpy(mae(images, noise=noise)["predictions"])
    mae.save(tmp_path / "mae.keras")
    loaded = keras.saving.load_model(tmp_path / "mae.keras")
    assert isinstance(loaded, MaskedAutoencoder)
    assert (loaded.mask_ratio, loaded.decoder.hidden_dim, loaded.seed) == (0.6, 8, 5)
    np.testing.assert_allclose(to_numpy(loaded(images, noise=noise)["predictions"]), expected, atol=1e-6)


def test_an_encoder_that_is_not_a_keraskit_vit_is_refused():
    inputs = keras.Input((16, 16, 1))
    not_a_vit = keras.Model(inputs, keras.layers.Flatten()(inputs))
    with pytest.raises(ValueError, match="expects a keraskit ViT encoder.*0 Patches"):
        MaskedAutoencoder(not_a_vit)
