"""TransformerBlock, TransformerDecoderBlock, DropPath and TokenPooling."""

import keras
import numpy as np
import pytest
from conftest import to_numpy
from reference import layer_norm, multi_head_attention, transformer_block
from weights import attention_weights

from keraskit.layers import (
    DropPath,
    TokenPooling,
    TransformerBlock,
    TransformerDecoderBlock,
)
from keraskit.models import vit

B, T, D, HEADS, MLP = 2, 6, 16, 4, 32


def numpy_weights(block):
    """A TransformerBlock's weights by the names reference.transformer_block uses."""
    g1, beta1 = (to_numpy(w) for w in block.attention_norm.weights)
    g2, beta2 = (to_numpy(w) for w in block.mlp_norm.weights)
    w1, b1 = (to_numpy(w) for w in block.mlp_hidden.weights)
    w2, b2 = (to_numpy(w) for w in block.mlp_output.weights)
    return dict(
        attention_weights(block.attention), g1=g1, beta1=beta1, g2=g2, beta2=beta2, w1=w1, b1=b1, w2=w2, b2=b2
    )


def randomize(layer, rng):
    """Random weights everywhere (LayerNorm gammas and biases included), to test every path."""
    for weight in layer.weights:
        weight.assign(rng.normal(scale=0.3, size=weight.shape).astype("float32"))


@pytest.mark.parametrize("norm_first", [True, False], ids=["pre-norm", "post-norm"])
def test_transformer_block_matches_numpy_forward_pass(rng, norm_first):
    x = rng.normal(size=(B, T, D)).astype("float32")
    block = TransformerBlock(HEADS, intermediate_dim=MLP, normalize_first=norm_first, layer_norm_epsilon=1e-5)
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
    block = TransformerBlock(HEADS, intermediate_dim=MLP, normalize_first=True)
    block(x)
    for dense in (block.attention.output_dense, block.mlp_output):
        dense.set_weights([np.zeros_like(to_numpy(w)) for w in dense.weights])
    np.testing.assert_allclose(to_numpy(block(x)), x, atol=1e-6)


def test_decoder_block_matches_its_parts(rng):
    target = rng.normal(size=(B, T, D)).astype("float32")
    source = rng.normal(size=(B, 5, D)).astype("float32")
    block = TransformerDecoderBlock(HEADS, intermediate_dim=MLP)
    block(target, source)
    randomize(block, rng)
    source_pad = np.array([[True] * 5, [True] * 3 + [False] * 2])
    got, self_weights, cross_weights = block(
        target, source, encoder_mask=source_pad, return_attention_scores=True
    )

    def norm(layer, h):
        gamma, beta = (to_numpy(w) for w in layer.weights)
        return layer_norm(h, gamma, beta, 1e-6)

    causal = np.tril(np.ones((T, T), bool))[None].repeat(B, 0)
    h = norm(block.self_attention_norm, target)
    x = (
        target
        + multi_head_attention(h, h, **attention_weights(block.self_attention), num_heads=HEADS, mask=causal)[
            0
        ]
    )
    h = norm(block.cross_attention_norm, x)
    cross_mask = np.repeat(source_pad[:, None], T, axis=1)
    x = (
        x
        + multi_head_attention(
            h, source, **attention_weights(block.cross_attention), num_heads=HEADS, mask=cross_mask
        )[0]
    )
    h = norm(block.mlp_norm, x)
    w1, b1 = (to_numpy(w) for w in block.mlp_hidden.weights)
    w2, b2 = (to_numpy(w) for w in block.mlp_output.weights)
    from reference import gelu

    expected = x + gelu(h @ w1 + b1) @ w2 + b2
    np.testing.assert_allclose(to_numpy(got), expected, rtol=1e-4, atol=1e-4)
    assert np.all(
        to_numpy(self_weights)[..., np.triu_indices(T, 1)[0], np.triu_indices(T, 1)[1]] < 1e-7
    )  # causal: nothing above the diagonal
    assert np.all(to_numpy(cross_weights)[1, :, :, 3:] < 1e-7)  # padded source ignored
    np.testing.assert_allclose(
        to_numpy(block(target, source, encoder_mask=source_pad)), to_numpy(got), rtol=1e-5, atol=1e-5
    )  # fused path agrees


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
    with pytest.raises(ValueError, match=r"`drop_path` must be a rate in \[0, 1\). Received: drop_path=1.5"):
        TransformerBlock(2, intermediate_dim=8, drop_path=1.5)
    with pytest.raises(ValueError, match=r"`intermediate_dim` must be an integer >= 1. .*intermediate_dim=0"):
        TransformerBlock(2, intermediate_dim=0)
    with pytest.raises(ValueError, match=r"`num_heads` must be an integer >= 1. Received: num_heads=2.5"):
        TransformerBlock(2.5, intermediate_dim=8)


@pytest.mark.parametrize("block", [TransformerBlock, TransformerDecoderBlock])
def test_blocks_refuse_keras_hub_argument_order(block):
    """KerasHub's TransformerEncoder(intermediate_dim, num_heads): here it fails, not 256 heads."""
    with pytest.raises(TypeError, match="positional argument"):
        block(256, 4)
    with pytest.raises(TypeError, match="intermediate_dim"):
        block(4)  # the MLP width has no default: it must be named
    with pytest.raises(ValueError, match=r"`num_heads`=3 does not divide the input width 16"):
        TransformerBlock(3, intermediate_dim=8)(np.zeros((1, 2, 16), "float32"))
    with pytest.raises(ValueError, match=r"`inputs` of rank 3"):
        TransformerBlock(2, intermediate_dim=8)(np.zeros((2, 16), "float32"))


@pytest.mark.slow  # compiles a bf16 training step: make test runs it
def test_mixed_bfloat16_vit_trains_and_softmax_runs_in_float32(rng):
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = vit(
        image_size=16,
        patch_size=4,
        num_classes=3,
        hidden_dim=16,
        num_layers=2,
        num_heads=2,
        intermediate_dim=32,
        channels=1,
        drop_path=0.1,
        dropout=0.1,
    )
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
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


def test_blocks_return_attention_scores_in_a_functional_model():
    inputs, source = keras.Input((T, D)), keras.Input((5, D))
    outputs, scores = TransformerBlock(HEADS, intermediate_dim=MLP)(inputs, return_attention_scores=True)
    assert tuple(outputs.shape) == (None, T, D) and tuple(scores.shape) == (None, HEADS, T, T)
    outputs, self_scores, cross_scores = TransformerDecoderBlock(HEADS, intermediate_dim=MLP)(
        inputs, source, return_attention_scores=True
    )
    assert tuple(self_scores.shape) == (None, HEADS, T, T)
    assert tuple(cross_scores.shape) == (None, HEADS, T, 5)


def test_every_projection_starts_from_its_own_random_weights():
    """One unseeded Keras initializer draws the same numbers at every call: each weight needs its own.

    With a shared one, W_Q = W_K = W_V and the two MLP kernels hold the same numbers."""
    block = TransformerBlock(2, intermediate_dim=16)
    block(np.zeros((1, 3, 16), "float32"))
    attention = block.attention
    kernels = [
        to_numpy(dense.kernel).reshape(-1)
        for dense in (
            attention.query_dense,
            attention.key_dense,
            attention.value_dense,
            attention.output_dense,
        )
    ]
    kernels += [to_numpy(block.mlp_hidden.kernel).reshape(-1), to_numpy(block.mlp_output.kernel).reshape(-1)]
    for i in range(len(kernels)):
        for j in range(i + 1, len(kernels)):
            size = min(len(kernels[i]), len(kernels[j]))
            assert not np.allclose(kernels[i][:size], kernels[j][:size]), (i, j)
    seeded = TransformerBlock(2, intermediate_dim=16, kernel_initializer=keras.initializers.GlorotUniform(7))
    seeded(np.zeros((1, 3, 16), "float32"))
    query, key = (to_numpy(d.kernel) for d in (seeded.attention.query_dense, seeded.attention.key_dense))
    assert not np.allclose(query, key)
