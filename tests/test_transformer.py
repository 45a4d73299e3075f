"""TransformerBlock, TransformerDecoderBlock, DropPath and TokenPooling."""

import keras
import numpy as np
import pytest
from conftest import to_numpy
from reference import layer_norm, multi_head_attention, softmax, transformer_block

from keraskit.layers import (
    DropPath,
    MultiHeadSelfAttention,
    TokenPooling,
    TransformerBlock,
    TransformerDecoderBlock,
)
from keraskit.models import vit

B, T, D, HEADS, MLP = 2, 6, 16, 4, 32


def numpy_weights(block):
    """A TransformerBlock's weights by the names reference.transformer_block uses."""
    qkv_kernel, qkv_bias = (to_numpy(w) for w in block.attention.qkv.weights)
    wq, wk, wv = np.split(qkv_kernel, 3, axis=1)
    bq, bk, bv = np.split(qkv_bias, 3)
    wo, bo = (to_numpy(w) for w in block.attention.output_dense.weights)
    g1, beta1 = (to_numpy(w) for w in block.attention_norm.weights)
    g2, beta2 = (to_numpy(w) for w in block.mlp_norm.weights)
    w1, b1 = (to_numpy(w) for w in block.mlp_hidden.weights)
    w2, b2 = (to_numpy(w) for w in block.mlp_output.weights)
    return dict(wq=wq, bq=bq, wk=wk, bk=bk, wv=wv, bv=bv, wo=wo, bo=bo, g1=g1, beta1=beta1,
                g2=g2, beta2=beta2, w1=w1, b1=b1, w2=w2, b2=b2)


def randomize(layer, rng):
    """Random weights everywhere (LayerNorm gammas and biases included), to test every path."""
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.3, size=weight.shape).astype("float32"))


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-norm", "post-norm"])
def test_transformer_block_matches_numpy_forward_pass(rng, norm_first):
    x = rng.normal(size=(B, T, D)).astype("float32")
    block = TransformerBlock(HEADS, MLP, norm_first=norm_first, layer_norm_epsilon=1e-5)
    block(x)
    randomize(block, rng)
    pad = np.array([[True] * T, [True] * 4 + [False] * 2])
    mask = np.repeat(pad[:, None, :], T, axis=1)
    expected = transformer_block(x, numpy_weights(block), HEADS, norm_first, 1e-5, mask=mask)
    np.testing.assert_allclose(to_numpy(block(x, mask=pad)), expected, rtol=1e-4, atol=1e-4)
    got, scores = block(x, mask=pad, return_attention_scores=True)
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-4, atol=1e-4)
    assert tuple(scores.shape) == (B, HEADS, T, T)


def test_residual_stack_keeps_information_that_post_norm_rescales(rng):
    """Pre-norm keeps x on the residual path: with zeroed branches the block is the identity."""
    x = rng.normal(size=(B, T, D)).astype("float32")
    block = TransformerBlock(HEADS, MLP, norm_first=True)
    block(x)
    for dense in (block.attention.output_dense, block.mlp_output):
        dense.set_weights([np.zeros_like(to_numpy(w)) for w in dense.weights])
    np.testing.assert_allclose(to_numpy(block(x)), x, atol=1e-6)


def test_decoder_block_matches_its_parts(rng):
    target = rng.normal(size=(B, T, D)).astype("float32")
    source = rng.normal(size=(B, 5, D)).astype("float32")
    block = TransformerDecoderBlock(HEADS, MLP)
    block(target, source)
    randomize(block, rng)
    source_pad = np.array([[True] * 5, [True] * 3 + [False] * 2])
    got, self_weights, cross_weights = block(target, source, encoder_mask=source_pad,
                                             return_attention_scores=True)

    def norm(layer, h):
        gamma, beta = (to_numpy(w) for w in layer.weights)
        return layer_norm(h, gamma, beta, 1e-6)

    def attention_weights(layer, query_input, context):
        names = ("wq", "bq", "wk", "bk", "wv", "bv")
        if isinstance(layer, MultiHeadSelfAttention):
            kernel, bias = (to_numpy(w) for w in layer.qkv.weights)
            parts = [*np.split(kernel, 3, 1)], [*np.split(bias, 3)]
        else:
            query_kernel, query_bias = (to_numpy(w) for w in layer.query_dense.weights)
            kernel, bias = (to_numpy(w) for w in layer.key_value.weights)
            parts = ([query_kernel, *np.split(kernel, 2, 1)], [query_bias, *np.split(bias, 2)])
        flat = [p for pair in zip(*parts, strict=True) for p in pair]
        wo, bo = (to_numpy(w) for w in layer.output_dense.weights)
        return dict(zip(names, flat, strict=True), wo=wo, bo=bo)

    causal = np.tril(np.ones((T, T), bool))[None].repeat(B, 0)
    h = norm(block.self_attention_norm, target)
    x = target + multi_head_attention(h, h, **attention_weights(block.self_attention, h, h),
                                      num_heads=HEADS, mask=causal)[0]
    h = norm(block.cross_attention_norm, x)
    cross_mask = np.repeat(source_pad[:, None], T, axis=1)
    x = x + multi_head_attention(h, source, **attention_weights(block.cross_attention, h, source),
                                 num_heads=HEADS, mask=cross_mask)[0]
    h = norm(block.mlp_norm, x)
    w1, b1 = (to_numpy(w) for w in block.mlp_hidden.weights)
    w2, b2 = (to_numpy(w) for w in block.mlp_output.weights)
    from reference import gelu
    expected = x + gelu(h @ w1 + b1) @ w2 + b2
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-4, atol=1e-4)
    assert np.all(to_numpy(self_weights)[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]]
                  < 1e-7)  # causal: nothing above the diagonal
    assert np.all(to_numpy(cross_weights)[1, :, :, 3:] < 1e-7)  # padded source ignored
    np.testing.assert_allclose(to_numpy(block(target, source, encoder_mask=source_pad)),
                               to_numpy(got), rtol=1e-5, atol=1e-5)  # fused path agrees


def test_drop_path_drops_whole_samples_and_keeps_the_mean(rng):
    x = np.ones((4000, 3, 2), "float32")
    layer = DropPath(0.25, seed=1)
    np.testing.assert_array_equal(to_numpy(layer(x, training=False)), x)
    out = to_numpy(layer(x, training=True))
    per_sample = out.reshape(4000, -1)
    # Every sample is all-zero or all-scaled: a whole branch dropped or kept.
    kept_or_dropped = np.isclose(per_sample, 0.0) | np.isclose(per_sample, 1 / 0.75)
    assert kept_or_dropped.all()
    assert np.all(per_sample.min(1) == per_sample.max(1))
    assert abs((per_sample[:, 0] == 0).mean() - 0.25) < 0.03
    assert abs(out.mean() - 1.0) < 0.05


def test_token_pooling_cls_and_masked_mean(rng):
    x = rng.normal(size=(B, T, D)).astype("float32")
    np.testing.assert_array_equal(to_numpy(TokenPooling("cls")(x)), x[:, 0])
    pad = np.array([[True] * T, [True, True, False, False, False, False]])
    got = to_numpy(TokenPooling("gap")(x, mask=pad))
    np.testing.assert_allclose(got[1], x[1, :2].mean(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(got[0], x[0].mean(0), rtol=1e-6, atol=1e-7)
    # DeiT's distillation token sits right after the class token.
    np.testing.assert_array_equal(to_numpy(TokenPooling("distillation")(x)), x[:, 1])
    with pytest.raises(ValueError, match=r"`method` must be one of \['cls', 'distillation', 'gap'\]"):
        TokenPooling("max")


def test_block_errors_name_the_argument():
    with pytest.raises(ValueError, match=r"`drop_path` must be in \[0, 1\). Received: drop_path=1.5"):
        TransformerBlock(2, 8, drop_path=1.5)
    with pytest.raises(ValueError, match=r"`num_heads`=3 does not divide the input width 16"):
        TransformerBlock(3, 8)(np.zeros((1, 2, 16), "float32"))
    with pytest.raises(ValueError, match=r"`inputs` of rank 3"):
        TransformerBlock(2, 8)(np.zeros((2, 16), "float32"))


def test_mixed_bfloat16_vit_trains_and_softmax_runs_in_float32(rng):
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = vit(image_size=16, patch_size=4, num_classes=3, dim=16, depth=2, num_heads=2,
                mlp_dim=32, channels=1, drop_path=0.1, dropout=0.1)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    images = rng.random((8, 16, 16, 1)).astype("float32")
    labels = rng.integers(0, 3, 8)
    loss = model.train_on_batch(images, labels)
    assert np.isfinite(loss)
    block = model.get_layer("block_0")
    assert block.compute_dtype == "bfloat16" and model.output.dtype == "float32"
    tokens = rng.normal(size=(2, 17, 16)).astype("float32")
    _, weights = block.attention(block.attention_norm(tokens), return_attention_scores=True)
    assert keras.backend.standardize_dtype(weights.dtype) == "float32"
    # Rows of a bfloat16 softmax are off by up to ~1e-2; float32 rows sum to 1 within 1e-6.
    np.testing.assert_allclose(to_numpy(weights).sum(-1), 1.0, atol=1e-6)
    fused = to_numpy(keras.ops.cast(block(tokens), "float32"))
    explicit = to_numpy(keras.ops.cast(block(tokens, return_attention_scores=True)[0], "float32"))
    np.testing.assert_allclose(fused, explicit, atol=0.1)


def test_softmax_reference_sanity():
    # The references themselves: softmax of equal logits is uniform.
    np.testing.assert_allclose(softmax(np.zeros((2, 5))), 0.2)


def test_blocks_return_attention_scores_in_a_functional_model():
    inputs, source = keras.Input((T, D)), keras.Input((5, D))
    outputs, scores = TransformerBlock(HEADS, MLP)(inputs, return_attention_scores=True)
    assert tuple(outputs.shape) == (None, T, D) and tuple(scores.shape) == (None, HEADS, T, T)
    outputs, self_scores, cross_scores = TransformerDecoderBlock(HEADS, MLP)(
        inputs, source, return_attention_scores=True)
    assert tuple(self_scores.shape) == (None, HEADS, T, T)
    assert tuple(cross_scores.shape) == (None, HEADS, T, 5)
