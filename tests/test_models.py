"""vit(), its presets, attention maps and rollout, and that it really learns."""

import keras
import numpy as np
import pytest
from conftest import to_numpy
from reference import softmax
from weights import attention_weights

from keraskit.course.data import synthetic_shapes
from keraskit.layers import Patches, TransformerBlock
from keraskit.models import (
    attention_maps,
    attention_rollout,
    resize_vit,
    vit,
    vit_base,
    vit_large,
    vit_small,
    vit_tiny,
)


def tiny_vit(**overrides):
    config = dict(
        image_size=16,
        patch_size=4,
        num_classes=4,
        hidden_dim=32,
        num_layers=2,
        num_heads=4,
        intermediate_dim=64,
        channels=3,
    )
    config.update(overrides)
    return vit(**config)


@pytest.mark.slow  # builds ViT-B/16; vit_base's doctest checks the count in make check
def test_vit_base_has_86_6_million_parameters_as_in_the_paper():
    assert abs(vit_base(num_classes=1000).count_params() - 86.6e6) <= 0.1e6


@pytest.mark.parametrize(
    "preset, hidden_dim, num_layers, heads",
    [
        (vit_tiny, 192, 12, 3),
        (vit_small, 384, 12, 6),
        # 300M weights to build; the sizes it checks are arguments, the same on every backend
        pytest.param(vit_large, 1024, 24, 16, marks=[pytest.mark.slow, pytest.mark.once("300M weights")]),
    ],
)
def test_presets_have_the_published_widths_depths_and_heads(preset, hidden_dim, num_layers, heads):
    # Small images and 2 classes keep the test light; the blocks are the published ones.
    model = preset(num_classes=2, image_size=32)
    blocks = [layer for layer in model.layers if isinstance(layer, TransformerBlock)]
    assert len(blocks) == num_layers
    assert blocks[0].num_heads == heads and blocks[0].intermediate_dim == 4 * hidden_dim
    assert model.get_layer("patch_encoder").hidden_dim == hidden_dim
    assert model.output_shape == (None, 2)


def test_presets_accept_overrides():
    model = vit_tiny(num_classes=10, image_size=28, patch_size=4, channels=1, num_layers=2)
    assert model.input_shape == (None, 28, 28, 1)
    assert len([layer for layer in model.layers if isinstance(layer, TransformerBlock)]) == 2


@pytest.mark.parametrize("pooling, position", [("cls", "learned"), ("gap", "sincos2d")])
def test_vit_variants_build_and_predict(rng, pooling, position):
    model = tiny_vit(pooling=pooling, position=position, image_size=(16, 24))
    images = rng.random((3, 16, 24, 3)).astype("float32")
    assert tuple(model(images).shape) == (3, 4)
    encoder = model.get_layer("patch_encoder")
    assert encoder.grid_size == (4, 6) and encoder.class_token == (pooling == "cls")


def test_vit_without_positions_sees_a_set_of_patches(rng):
    # With no position information and average pooling, nothing in the model knows where a
    # patch was: shuffling the patches of an image must leave the logits unchanged. With
    # learned positions the same shuffle must change them (the test could fail either way).
    images = rng.random((2, 16, 16, 3)).astype("float32")
    patches = images.reshape(2, 4, 4, 4, 4, 3).transpose(0, 1, 3, 2, 4, 5)  # (B, rows, cols, 4, 4, 3)
    order = rng.permutation(16)
    shuffled = patches.reshape(2, 16, 4, 4, 3)[:, order].reshape(2, 4, 4, 4, 4, 3)
    shuffled = shuffled.transpose(0, 1, 3, 2, 4, 5).reshape(2, 16, 16, 3)
    for position, invariant in (("none", True), ("learned", False)):
        keras.utils.set_random_seed(0)
        model = tiny_vit(pooling="gap", position=position)
        before = keras.ops.convert_to_numpy(model(images))
        after = keras.ops.convert_to_numpy(model(shuffled))
        assert np.allclose(before, after, atol=1e-5) == invariant, position
    encoder = tiny_vit(position="none").get_layer("patch_encoder")
    assert [weight.name for weight in encoder.weights if "position" in weight.name] == []


def test_vit_with_shifted_patches_projects_five_views_of_each_patch(rng, tmp_path):
    # Only the patch projection changes: 5 x (4 * 4 * 3) inputs per token instead of 48.
    plain, shifted = tiny_vit(), tiny_vit(shifted_patches=True)
    kernel = shifted.get_layer("patch_encoder").projection.kernel
    assert tuple(kernel.shape) == (5 * 48, plain.get_layer("patch_encoder").projection.kernel.shape[1])
    assert shifted.count_params() - plain.count_params() == 4 * 48 * kernel.shape[1]
    # The tokens it projects are the layer's shifted patches, and the model saves and loads.
    images = rng.random((2, 16, 16, 3)).astype("float32")
    patches = keras.ops.convert_to_numpy(shifted.get_layer("patches")(images))
    np.testing.assert_array_equal(patches, keras.ops.convert_to_numpy(Patches(4, shifted=True)(images)))
    shifted.save(tmp_path / "shifted.keras")
    loaded = keras.models.load_model(tmp_path / "shifted.keras")
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded(images)), keras.ops.convert_to_numpy(shifted(images)), atol=1e-6
    )


def test_vit_with_a_conv_stem_is_keras_convolutions_then_a_vit_of_their_feature_map(rng, tmp_path):
    # The paper's hybrid (section 3.1), rebuilt from independent parts: Keras's own Conv2D
    # layers, then a plain vit() whose "image" is their 4x4 feature map of 16 channels.
    hybrid = tiny_vit(patch_size=1, conv_stem=(8, 16), pooling="gap")
    convolutions = keras.Sequential(
        [keras.Input((16, 16, 3))]
        + [keras.layers.Conv2D(f, 3, strides=2, padding="same", activation="relu") for f in (8, 16)]
    )
    on_the_map = tiny_vit(image_size=4, patch_size=1, channels=16, pooling="gap")
    for index, convolution in enumerate(convolutions.layers):
        convolution.set_weights(hybrid.get_layer(f"stem_conv_{index}").get_weights())
    for layer in on_the_map.layers:
        layer.set_weights(hybrid.get_layer(layer.name).get_weights())
    images = rng.random((3, 16, 16, 3)).astype("float32")
    expected = to_numpy(on_the_map(convolutions(images)))
    np.testing.assert_allclose(to_numpy(hybrid(images)), expected, atol=1e-5)
    assert hybrid.get_layer("patch_encoder").grid_size == (4, 4)
    # One token per position of the map: attention maps are 16 x 16, as for 4x4 patches.
    assert attention_maps(hybrid, images)[0].shape == (3, 4, 16, 16)
    hybrid.save(tmp_path / "hybrid.keras")
    loaded = keras.models.load_model(tmp_path / "hybrid.keras")
    np.testing.assert_allclose(to_numpy(loaded(images)), expected, atol=1e-5)


def test_resize_vit_follows_the_conv_stem_to_the_new_feature_map(rng):
    # 16x16 -> 4x4 map -> 2x2 patches; at 32x32 the map is 8x8, so 4x4 patches of it.
    model = tiny_vit(patch_size=2, conv_stem=(8, 16))
    larger = resize_vit(model, 32)
    assert larger.get_layer("patch_encoder").grid_size == (4, 4)
    assert tuple(larger.get_layer("patch_encoder").position_embedding.shape) == (1 + 16, 32)
    for index in range(2):  # the convolutions keep their weights
        for old, new in zip(model.get_layer(f"stem_conv_{index}").weights,
                            larger.get_layer(f"stem_conv_{index}").weights, strict=True):  # fmt: skip
            np.testing.assert_array_equal(to_numpy(old), to_numpy(new))
    assert np.isfinite(to_numpy(larger(rng.random((2, 32, 32, 3)).astype("float32")))).all()
    # 20x20 -> 10x10 -> 5x5: not a whole number of 2x2 patches.
    with pytest.raises(ValueError, match=r"image_size=20 is not a whole number of 2x2 .*a 5x5 feature map"):
        resize_vit(model, 20)


def test_drop_path_grows_linearly_with_depth():
    model = tiny_vit(num_layers=4, drop_path=0.3)
    rates = [model.get_layer(f"block_{i}").drop_path for i in range(4)]
    np.testing.assert_allclose(rates, [0.0, 0.1, 0.2, 0.3], atol=1e-7)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(image_size=30, patch_size=4), r"the image height 30 is not divisible by the patch height 4"),
        (dict(image_size=(16,)), r"`image_size` must be a positive int or a pair.*image_size=\(16,\)"),
        (dict(patch_size=0), r"`patch_size` must be a positive int or a pair.*Received: patch_size=0"),
        (dict(num_classes=0), r"`num_classes` must be an integer >= 1. Received: num_classes=0"),
        (dict(hidden_dim=0), r"`hidden_dim` must be an integer >= 1. Received: hidden_dim=0"),
        (dict(hidden_dim=32.5), r"`hidden_dim` must be an integer >= 1. Received: hidden_dim=32.5"),
        (dict(num_layers=0), r"`num_layers` must be an integer >= 1. Received: num_layers=0"),
        (dict(num_heads=0), r"`num_heads` must be an integer >= 1. Received: num_heads=0"),
        (dict(num_heads=5), r"`num_heads`=5 does not divide `hidden_dim`=32 .*\[1, 2, 4, 8, 16, 32\]"),
        (dict(intermediate_dim=-1), r"`intermediate_dim` must be an integer >= 1. .*intermediate_dim=-1"),
        (dict(channels=0), r"`channels` must be an integer >= 1. Received: channels=0"),
        (dict(shifted_patches="yes"), r"`shifted_patches` must be True or False. .*shifted_patches='yes'"),
        (dict(pooling="max"), r"`pooling` must be one of \['cls', 'gap'\]. Received: pooling='max'"),
        (dict(position="rope"), r"`position` must be one of \['learned', 'sincos2d', 'none'\]"),
        (dict(position="sincos2d", hidden_dim=34, num_heads=2), r"divisible by 4.*hidden_dim=34"),
        (dict(dropout=1.0), r"`dropout` must be a rate in \[0, 1\). Received: dropout=1.0"),
        (dict(attention_dropout=-0.1), r"`attention_dropout` must be a rate in \[0, 1\). .*=-0.1"),
        (dict(drop_path=2), r"`drop_path` must be a rate in \[0, 1\). Received: drop_path=2"),
        (dict(layer_norm_epsilon=0), r"`layer_norm_epsilon` must be > 0. Received: layer_norm_epsilon=0"),
        (dict(distillation=True, pooling="gap"), r"`distillation=True` .* needs pooling='cls'"),
        (dict(conv_stem=()), r"`conv_stem` must be None or a non-empty list .*Received: conv_stem=\(\)"),
        (dict(conv_stem=(8, 0)), r"filter counts \(integers >= 1\).*Received: conv_stem=\(8, 0\)"),
        (dict(conv_stem=8), r"`conv_stem` must be None or a non-empty list .*Received: conv_stem=8"),
        (
            dict(conv_stem=(8,), patch_size=3),
            r"map's height after the 1 stride-2 convolutions of `conv_stem`=\(8,\) \(8\) is not divisible",
        ),
    ],
)
def test_vit_rejects_bad_configurations_with_a_clear_message(overrides, message):
    with pytest.raises(ValueError, match=message):
        tiny_vit(**overrides)


def test_vit_arguments_are_keyword_only():
    """vit(16, 4, 10, ...) would depend on an argument order: it has to name them."""
    with pytest.raises(TypeError, match="positional argument"):
        vit(16, 4, 4, 32, 2, 4, 64)


def test_vit_rejects_images_of_the_wrong_rank():
    # Keras's functional model checks the input against keras.Input before any layer runs.
    # torch prints the shape as torch.Size([2, 16, 16]), the others as (2, 16, 16).
    expected = r"Expected shape \(None, 16, 16, 3\), but input has incompatible shape \S*\(\[?2, 16, 16\]?\)"
    with pytest.raises(ValueError, match=expected):
        tiny_vit()(np.zeros((2, 16, 16), "float32"))


def test_vit_rejects_images_with_other_channels():
    grey = tiny_vit(channels=1)
    with pytest.raises(ValueError, match=r"expects images with 1 channel.*\(2, 16, 16, 3\), with 3 channel"):
        grey(np.zeros((2, 16, 16, 3), "float32"))
    assert tuple(grey(np.zeros((2, 16, 16, 1), "float32")).shape) == (2, 4)


def test_attention_maps_match_softmax_of_first_block_queries_and_keys(rng):
    model = tiny_vit()
    images = rng.random((2, 16, 16, 3)).astype("float32")
    maps = attention_maps(model, images)
    assert len(maps) == 2 and maps[0].shape == (2, 4, 17, 17)
    np.testing.assert_allclose(maps[1].sum(-1), 1.0, atol=1e-5)
    # Recompute block 0's attention by hand from its input and weights.
    tokens = to_numpy(model.get_layer("patch_encoder")(model.get_layer("patches")(images)))
    block = model.get_layer("block_0")
    normed = to_numpy(block.attention_norm(tokens))
    weights = attention_weights(block.attention)
    q = (normed @ weights["wq"] + weights["bq"]).reshape(2, 17, 4, 8).transpose(0, 2, 1, 3)
    k = (normed @ weights["wk"] + weights["bk"]).reshape(2, 17, 4, 8).transpose(0, 2, 1, 3)
    expected = softmax(q @ k.transpose(0, 1, 3, 2) / np.sqrt(8))
    np.testing.assert_allclose(maps[0], expected, rtol=1e-4, atol=1e-5)


def test_attention_rollout_follows_abnar_and_zuidema(rng):
    model = tiny_vit()
    images = rng.random((2, 16, 16, 3)).astype("float32")
    maps = attention_maps(model, images)
    joint = np.eye(17)
    for weights in maps:  # A_hat = 0.5 A + 0.5 I, rows renormalized; multiply first to last
        a = 0.5 * weights.mean(1) + 0.5 * np.eye(17)
        a = a / a.sum(-1, keepdims=True)
        joint = a @ joint
    expected = joint[:, 0, 1:] / joint[:, 0, 1:].sum(-1, keepdims=True)
    got = attention_rollout(model, images)
    assert got.shape == (2, 4, 4)
    np.testing.assert_allclose(got.reshape(2, 16), expected, rtol=1e-4, atol=1e-6)


def test_attention_rollout_without_class_token_and_bad_fusion(rng):
    model = tiny_vit(pooling="gap")
    got = attention_rollout(model, rng.random((1, 16, 16, 3)).astype("float32"), head_fusion="max")
    assert got.shape == (1, 4, 4)
    np.testing.assert_allclose(got.sum(), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match=r"`head_fusion` must be one of"):
        attention_rollout(model, np.zeros((1, 16, 16, 3)), head_fusion="median")
    with pytest.raises(ValueError, match=r"no keraskit TransformerBlock"):
        attention_maps(keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)]), np.zeros((1, 4)))


def test_tiny_vit_overfits_one_batch():
    """A model that can learn anything can memorize 16 random labels: loss below 0.05 in 150 steps."""
    rng = np.random.default_rng(0)
    images = rng.random((16, 16, 16, 3)).astype("float32")
    labels = rng.integers(0, 4, 16)
    model = tiny_vit()
    model.compile(
        optimizer=keras.optimizers.Adam(3e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    first = model.evaluate(images, labels, verbose=0)
    for _ in range(150):
        model.train_on_batch(images, labels)
    # Evaluated, not read from train_on_batch: Keras 3.8 returns the mean since the first step.
    loss = model.evaluate(images, labels, verbose=0)
    assert first > 1.0, f"initial loss {first:.3f} should be near ln(4) = 1.39"
    assert loss < 0.05, f"loss after 150 steps on one batch: {loss:.4f} (wanted < 0.05)"


@pytest.mark.slow
def test_vit_learns_synthetic_shapes_well_above_chance():
    """4 shapes, chance is 25%: a tiny ViT reaches at least 70% on held-out images."""
    (train_x, train_y), (test_x, test_y) = (
        synthetic_shapes(2000, 16, seed=1),
        synthetic_shapes(500, 16, seed=2),
    )
    model = tiny_vit(hidden_dim=48, num_layers=2, num_heads=4, intermediate_dim=96)
    model.compile(
        optimizer=keras.optimizers.AdamW(2e-3, weight_decay=1e-4),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(train_x, train_y, batch_size=64, epochs=10, verbose=0)
    _, accuracy = model.evaluate(test_x, test_y, verbose=0)
    assert accuracy >= 0.70, f"held-out accuracy {accuracy:.3f} (chance 0.25, wanted >= 0.70)"


def test_training_resized_copies_leaves_the_original_and_each_other_intact():
    """resize_vit copies the weights: on JAX, fit donates (deletes) a copy's arrays, not others'."""
    model = vit(image_size=16, patch_size=4, num_classes=3, hidden_dim=8, num_layers=1, num_heads=2,
                intermediate_dim=16, channels=1)  # fmt: skip
    rng = np.random.default_rng(0)
    images = rng.random((8, 16, 16, 1)).astype("float32")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(images, np.zeros(8), verbose=0)
    before = [to_numpy(weight).copy() for weight in model.weights]
    copies = [resize_vit(model, 24), resize_vit(model, 24), resize_vit(model, 16)]
    for resized in copies:  # each trained in turn, after the others were made
        size = resized.input_shape[1]
        resized.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        resized.fit(rng.random((8, size, size, 1)).astype("float32"), np.zeros(8), verbose=0)
    for resized in copies:
        assert resized.predict(rng.random((2, *resized.input_shape[1:])), verbose=0).shape == (2, 3)
    for old, weight in zip(before, model.weights, strict=True):
        np.testing.assert_array_equal(to_numpy(weight), old)
