"""MultiHeadSelfAttention and MultiHeadCrossAttention against Keras's MultiHeadAttention."""

import keras
import numpy as np
import pytest
from conftest import to_numpy
from reference import multi_head_attention

from keraskit.layers import MultiHeadCrossAttention, MultiHeadSelfAttention, causal_mask

B, T, S, D, HEADS = 3, 7, 5, 16, 4


def copy_from_keras(ours, theirs):
    """Load a keras.layers.MultiHeadAttention's weights into a keraskit attention layer.

    Both lay their weights out alike (kernels (D, N, H) and (N, H, D)), so each copies
    as it is; returns them flattened to (D, N*H) / (N*H, D) for the NumPy reference."""
    pairs = [
        (ours.query_dense, theirs._query_dense),
        (ours.key_dense, theirs._key_dense),
        (ours.value_dense, theirs._value_dense),
        (ours.output_dense, theirs._output_dense),
    ]
    for mine, keras_dense in pairs:
        assert [w.shape for w in mine.weights] == [w.shape for w in keras_dense.weights]
        mine.set_weights([to_numpy(w) for w in keras_dense.weights])
    (wq, bq), (wk, bk), (wv, bv) = (
        (to_numpy(kernel).reshape(kernel.shape[0], -1), to_numpy(bias).reshape(-1))
        for kernel, bias in (dense.weights for dense, _ in pairs[:3])
    )
    wo, bo = (to_numpy(w) for w in ours.output_dense.weights)
    return dict(wq=wq, bq=bq, wk=wk, bk=bk, wv=wv, bv=bv, wo=wo.reshape(-1, wo.shape[-1]), bo=bo)


def keras_pair(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    theirs = keras.layers.MultiHeadAttention(HEADS, D // HEADS)
    theirs(x, x)
    ours = MultiHeadSelfAttention(HEADS)
    ours(x)
    weights = copy_from_keras(ours, theirs)
    return x, ours, theirs, weights


def padding_mask(rng):
    lengths = rng.integers(2, T + 1, size=B)  # the first token is always real
    return np.arange(T)[None, :] < lengths[:, None]


@pytest.mark.parametrize("scores", [False, True], ids=["fused", "explicit"])
@pytest.mark.parametrize("masking", ["none", "padding", "causal", "padding+causal"])
def test_self_attention_matches_keras_multi_head_attention(rng, masking, scores):
    x, ours, theirs, _ = keras_pair(rng)
    pad = padding_mask(rng) if "padding" in masking else None
    causal = "causal" in masking
    attention_mask = None if pad is None else np.repeat(pad[:, None, :], T, axis=1)
    expected = to_numpy(theirs(x, x, attention_mask=attention_mask, use_causal_mask=causal))
    got = ours(x, mask=pad, use_causal_mask=causal, return_attention_scores=scores)
    got = to_numpy(got[0] if scores else got)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_explicit_weights_match_numpy_formula(rng):
    x, ours, _, w = keras_pair(rng)
    mask = rng.random((B, T, T)) > 0.3
    mask[:, :, 0] = True  # every query may see at least one key
    outputs, weights = ours(x, mask=mask, return_attention_scores=True)
    expected_outputs, expected_weights = multi_head_attention(x, x, **w, num_heads=HEADS, mask=mask)
    np.testing.assert_allclose(to_numpy(weights), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(to_numpy(outputs), expected_outputs, rtol=1e-5, atol=1e-5)


def test_fused_path_equals_explicit_path_with_dropout_at_inference(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = MultiHeadSelfAttention(HEADS, attention_dropout=0.5)
    pad = padding_mask(rng)
    fused = layer(x, mask=pad, training=False)
    explicit, _ = layer(x, mask=pad, training=False, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(fused), to_numpy(explicit), rtol=1e-5, atol=1e-6)
    dropped = layer(x, mask=pad, training=True)  # dropout really acts while training
    assert not np.allclose(to_numpy(dropped), to_numpy(fused), atol=1e-4)


def test_self_attention_without_positions_is_permutation_equivariant(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = MultiHeadSelfAttention(HEADS)
    permutation = rng.permutation(T)
    shuffled_then_attended = to_numpy(layer(x[:, permutation]))
    attended_then_shuffled = to_numpy(layer(x))[:, permutation]
    np.testing.assert_allclose(shuffled_then_attended, attended_then_shuffled, atol=1e-5)


@pytest.mark.parametrize("scores", [False, True], ids=["fused", "explicit"])
def test_causal_output_at_t_ignores_tokens_after_t(rng, scores):
    x = rng.normal(size=(B, T, D)).astype("float32")
    layer = MultiHeadSelfAttention(HEADS)
    t = 3
    changed = x.copy()
    changed[:, t + 1 :] = rng.normal(size=changed[:, t + 1 :].shape)

    def run(inputs):
        out = layer(inputs, use_causal_mask=True, return_attention_scores=scores)
        return to_numpy(out[0] if scores else out)

    before, after = run(x), run(changed)
    np.testing.assert_allclose(after[:, : t + 1], before[:, : t + 1], atol=1e-6)
    assert not np.allclose(after[:, t + 1 :], before[:, t + 1 :])  # later positions did change


@pytest.mark.parametrize("scores", [False, True], ids=["fused", "explicit"])
def test_fully_padded_rows_never_produce_nan(rng, scores):
    x = rng.normal(size=(B, T, D)).astype("float32")
    pad = padding_mask(rng)
    pad[1] = False  # one sequence is all padding
    layer = MultiHeadSelfAttention(HEADS)
    out = layer(x, mask=pad, use_causal_mask=True, return_attention_scores=scores)
    for tensor in out if scores else [out]:
        assert np.isfinite(to_numpy(tensor)).all()


def test_attention_weights_rows_sum_to_one_and_respect_masks(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    pad = padding_mask(rng)
    _, weights = MultiHeadSelfAttention(HEADS)(
        x, mask=pad, use_causal_mask=True, return_attention_scores=True
    )
    weights = to_numpy(weights)
    assert weights.shape == (B, HEADS, T, T)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    allowed = pad[:, None, None, :] & to_numpy(causal_mask(T))[None, None]
    assert np.all(weights[~np.broadcast_to(allowed, weights.shape)] < 1e-7)


def test_cross_attention_matches_keras_multi_head_attention(rng):
    target = rng.normal(size=(B, T, D)).astype("float32")
    source = rng.normal(size=(B, S, D)).astype("float32")
    theirs = keras.layers.MultiHeadAttention(HEADS, D // HEADS)
    theirs(target, source)
    ours = MultiHeadCrossAttention(HEADS)
    ours(target, source)
    copy_from_keras(ours, theirs)
    source_pad = np.arange(S)[None, :] < rng.integers(1, S + 1, size=B)[:, None]
    expected = to_numpy(theirs(target, source, attention_mask=np.repeat(source_pad[:, None], T, axis=1)))
    for scores in (False, True):
        got = ours(target, source, context_mask=source_pad, return_attention_scores=scores)
        got = to_numpy(got[0] if scores else got)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_num_heads_not_dividing_width_is_explained():
    with pytest.raises(ValueError, match=r"`num_heads`=5 does not divide the input width 16"):
        MultiHeadSelfAttention(5)(np.zeros((1, 3, 16), "float32"))
    # An explicit key_dim lifts the constraint.
    assert MultiHeadSelfAttention(5, key_dim=4)(np.zeros((1, 3, 16), "float32")).shape == (1, 3, 16)


def test_wrong_rank_and_wrong_mask_shape_are_explained():
    layer = MultiHeadSelfAttention(2)
    with pytest.raises(ValueError, match=r"`inputs` of rank 3.*shape \(3, 16\)"):
        layer(np.zeros((3, 16), "float32"))
    x = np.zeros((2, 4, 16), "float32")
    with pytest.raises(ValueError, match=r"padding mask \(batch, 4\).*Received `mask` of shape \(2, 5\)"):
        layer(x, mask=np.ones((2, 5), bool))
    with pytest.raises(ValueError, match=r"attention mask \(batch, 4, 4\).*shape \(2, 4, 3\)"):
        layer(x, mask=np.ones((2, 4, 3), bool))
    with pytest.raises(ValueError, match=r"rank 1"):
        layer(x, mask=np.ones((4,), bool))


def test_attention_scores_are_returned_in_a_functional_model(rng):
    inputs = keras.Input((T, D))
    outputs, weights = MultiHeadSelfAttention(HEADS)(inputs, return_attention_scores=True)
    assert tuple(outputs.shape) == (None, T, D) and tuple(weights.shape) == (None, HEADS, T, T)
    model = keras.Model(inputs, [outputs, weights])
    got_outputs, got_weights = model(rng.normal(size=(2, T, D)).astype("float32"))
    np.testing.assert_allclose(to_numpy(got_weights).sum(-1), 1.0, atol=1e-6)
    source = keras.Input((S, D))
    cross, cross_weights = MultiHeadCrossAttention(HEADS)(inputs, source, return_attention_scores=True)
    assert tuple(cross.shape) == (None, T, D) and tuple(cross_weights.shape) == (None, HEADS, T, S)
