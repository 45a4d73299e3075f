"""Positional encodings and PatchEncoder against the papers' formulas in NumPy."""

import keras
import numpy as np
import pytest
from conftest import to_numpy
from reference import bicubic_resize, sincos_2d, sinusoidal

from keraskit.layers import (
    LearnedPositionEmbedding,
    PatchEncoder,
    SinCos2DPositionEncoding,
    SinusoidalPositionEncoding,
    TokenAndPositionEmbedding,
)


@pytest.mark.parametrize("length, dim", [(50, 16), (7, 9), (128, 64)])
def test_sinusoidal_matches_vaswani_formula(length, dim):
    x = np.zeros((2, length, dim), "float32")
    got = to_numpy(SinusoidalPositionEncoding()(x))
    assert got.shape == (2, length, dim)
    np.testing.assert_allclose(got[1], sinusoidal(length, dim), atol=2e-5)


def test_sinusoidal_start_index_continues_the_sequence():
    x = np.zeros((1, 4, 32), "float32")
    got = to_numpy(SinusoidalPositionEncoding()(x, start_index=10))
    np.testing.assert_allclose(got[0], sinusoidal(14, 32)[10:], atol=2e-5)


def test_sincos_2d_matches_reference_and_rows_share_a_code():
    x = np.zeros((1, 3 * 5, 16), "float32")
    got = to_numpy(SinCos2DPositionEncoding((3, 5))(x))[0]
    np.testing.assert_allclose(got, sincos_2d(3, 5, 16), atol=2e-5)
    # Tokens in one row share the row half; tokens in one column share the column half.
    np.testing.assert_allclose(got[0, :8], got[4, :8])
    np.testing.assert_allclose(got[0, 8:], got[5, 8:])


def test_sincos_2d_rejects_width_not_divisible_by_4_and_wrong_length():
    with pytest.raises(ValueError, match=r"`hidden_dim` must be divisible by 4.*Received: hidden_dim=10"):
        SinCos2DPositionEncoding((2, 2))(np.zeros((1, 4, 10), "float32"))
    with pytest.raises(ValueError, match=r"has 4 positions, but `inputs` has 5 tokens"):
        SinCos2DPositionEncoding((2, 2))(np.zeros((1, 5, 8), "float32"))


def test_learned_position_embedding_returns_its_rows_from_start_index():
    layer = LearnedPositionEmbedding(sequence_length=10)
    x = np.zeros((2, 3, 8), "float32")
    layer(x)
    table = to_numpy(layer.position_embeddings)
    np.testing.assert_array_equal(to_numpy(layer(x))[1], table[:3])
    np.testing.assert_array_equal(to_numpy(layer(x, start_index=4))[0], table[4:7])
    with pytest.raises(ValueError, match=r"has 10 positions.*11 tokens"):
        layer(np.zeros((1, 11, 8), "float32"))


def test_token_and_position_embedding_adds_both_and_masks_padding():
    layer = TokenAndPositionEmbedding(20, 6, hidden_dim=8, mask_zero=True)
    ids = np.array([[3, 5, 0, 0], [7, 1, 2, 9]])
    out = to_numpy(layer(ids))
    tokens = to_numpy(layer.token_embedding.embeddings)
    positions = to_numpy(layer.position_embedding.position_embeddings)
    np.testing.assert_allclose(out, tokens[ids] + positions[None, :4], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(to_numpy(layer.compute_mask(ids)), ids != 0)


def test_token_and_position_embedding_mask_reaches_the_next_layer():
    ids = keras.Input((5,), dtype="int32")
    x = TokenAndPositionEmbedding(20, 5, hidden_dim=8, mask_zero=True)(ids)
    assert x._keras_mask is not None  # Keras carries the padding mask to the next layer


def test_token_and_position_embedding_sinusoidal_and_bad_position():
    layer = TokenAndPositionEmbedding(20, 6, hidden_dim=8, position="sinusoidal")
    ids = np.array([[3, 5, 1]])
    out = to_numpy(layer(ids))
    tokens = to_numpy(layer.token_embedding.embeddings)
    np.testing.assert_allclose(out[0], tokens[ids[0]] + sinusoidal(3, 8), atol=2e-5)
    with pytest.raises(ValueError, match=r"`position` must be one of \['learned', 'sinusoidal'\]"):
        TokenAndPositionEmbedding(20, 6, hidden_dim=8, position="rotary")


def test_patch_encoder_projects_prepends_class_token_and_adds_positions(rng):
    patches = rng.normal(size=(2, 16, 12)).astype("float32")
    encoder = PatchEncoder(8, class_token=True)
    out = to_numpy(encoder(patches))
    kernel, bias = (to_numpy(w) for w in encoder.projection.weights)
    positions = to_numpy(encoder.position_embedding)
    assert out.shape == (2, 17, 8) and encoder.grid_size == (4, 4)
    class_token = to_numpy(encoder.class_embedding)
    np.testing.assert_allclose(out[:, 0], np.broadcast_to(class_token + positions[0], (2, 8)), atol=1e-6)
    np.testing.assert_allclose(out[:, 1:], patches @ kernel + bias + positions[1:], atol=1e-5)


def test_patch_encoder_sincos2d_uses_fixed_2d_code_and_zero_for_class_token(rng):
    patches = rng.normal(size=(1, 6, 5)).astype("float32")
    encoder = PatchEncoder(8, grid_size=(2, 3), class_token=True, position="sincos2d")
    out = to_numpy(encoder(patches))
    kernel, bias = (to_numpy(w) for w in encoder.projection.weights)
    np.testing.assert_allclose(out[0, 1:], patches[0] @ kernel + bias + sincos_2d(2, 3, 8), atol=1e-5)
    np.testing.assert_allclose(out[0, 0], to_numpy(encoder.class_embedding), atol=1e-6)
    assert not any("position" in w.path for w in encoder.weights)  # nothing learned


def test_patch_encoder_interpolates_learned_positions_on_a_larger_grid(rng):
    encoder = PatchEncoder(6, class_token=True)
    encoder(rng.normal(size=(1, 9, 4)).astype("float32"))  # built for a 3x3 grid
    kernel, bias = (to_numpy(w) for w in encoder.projection.weights)
    positions = to_numpy(encoder.position_embedding)
    larger = rng.normal(size=(1, 5 * 6, 4)).astype("float32")
    out = to_numpy(encoder(larger, grid_size=(5, 6)))
    assert out.shape == (1, 31, 6)
    resized = bicubic_resize(positions[1:].reshape(3, 3, 6), 5, 6).reshape(30, 6)
    np.testing.assert_allclose(out[0, 1:], larger[0] @ kernel + bias + resized, atol=1e-5)
    class_token = to_numpy(encoder.class_embedding)
    np.testing.assert_allclose(out[0, 0], class_token + positions[0], atol=1e-6)  # kept


def test_patch_encoder_errors_name_the_problem():
    with pytest.raises(ValueError, match=r"`position` must be one of \['learned', 'sincos2d', 'none'\]"):
        PatchEncoder(8, position="rope")
    with pytest.raises(ValueError, match=r"12 patches do not form a square grid"):
        PatchEncoder(8)(np.zeros((1, 12, 4), "float32"))
    with pytest.raises(ValueError, match=r"`patches` of rank 3"):
        PatchEncoder(8)(np.zeros((1, 2, 2, 4), "float32"))


def test_learned_position_embedding_rejects_start_index_past_the_table():
    layer = LearnedPositionEmbedding(sequence_length=8)
    with pytest.raises(ValueError, match=r"`start_index`=6 with 5 tokens asks for positions 6..10"):
        layer(np.zeros((1, 5, 4), "float32"), start_index=6)


def test_distillation_token_and_positions_start_from_different_draws():
    encoder = PatchEncoder(8, class_token=True, distillation_token=True)
    encoder(np.zeros((1, 4, 3), "float32"))
    token = to_numpy(encoder.distillation_embedding)
    assert not np.allclose(token, to_numpy(encoder.position_embedding)[0])
