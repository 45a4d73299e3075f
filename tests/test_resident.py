"""bench/resident.py: the JAX loop with the data on the device, checked against Keras and NumPy.

The loop is a benchmark tool, not part of the library (bench/resident.py says why), so it is
loaded from its file, as tests/test_bench.py loads the other bench scripts.
"""

import importlib.util
import itertools
import pathlib

import keras
import numpy as np
import pytest
from conftest import to_numpy

from keraskit.models import vit
from keraskit.training import image_augmentation


def _load_resident():
    path = pathlib.Path(__file__).resolve().parent.parent / "bench" / "resident.py"
    spec = importlib.util.spec_from_file_location("bench_resident", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


resident = _load_resident()
evaluate_on_device, train_on_device = resident.evaluate_on_device, resident.train_on_device

on_jax = pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="train_on_device is the JAX backend's loop"
)


def small_classifier(image_shape=(6, 6, 1), classes=3):
    return keras.Sequential(
        [
            keras.Input(image_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(classes),
        ]
    )


def random_data(rng, count, image_shape=(6, 6, 1), classes=3):
    images = rng.random((count, *image_shape)).astype("float32")
    labels = rng.integers(0, classes, count).astype("int32")
    return images, labels


def numpy_flip_and_shift(image, flip, down, right):
    """The reference, pixel by pixel: output[r, c] = input[r - down, c - right], zero outside."""
    if flip:
        image = image[:, ::-1]
    height, width = image.shape[:2]
    out = np.zeros_like(image)
    for r, c in itertools.product(range(height), range(width)):
        if 0 <= r - down < height and 0 <= c - right < width:
            out[r, c] = image[r - down, c - right]
    return out


@on_jax
def test_one_epoch_without_shuffling_or_augmentation_matches_fit(rng):
    images, labels = random_data(rng, 32)
    reference = small_classifier()
    ours = keras.models.clone_model(reference)
    ours.set_weights(reference.get_weights())
    initial = reference.get_weights()

    reference.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    fitted = reference.fit(images, labels, batch_size=8, epochs=1, shuffle=False, verbose=0)
    history = train_on_device(
        ours,
        (images, labels),
        (images, labels),
        epochs=1,
        batch_size=8,
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        shuffle=False,
        flip=False,
        max_shift=0,
    )

    for expected, received in zip(reference.get_weights(), ours.get_weights(), strict=True):
        np.testing.assert_allclose(received, expected, rtol=1e-5, atol=1e-6)
    assert not np.allclose(ours.get_weights()[0], initial[0])  # four steps did move the weights
    # Both report the mean of the four batch losses.
    assert history[0]["loss"] == pytest.approx(fitted.history["loss"][0], rel=1e-5)


def augment_statelessly(images, seed, max_shift, steps=1):
    """What train_on_device does with a batch: the augmentation layers, called statelessly in jit."""
    import jax

    augmentation = image_augmentation(True, max_shift, seed=seed)
    augmentation.build((None, *images.shape[1:]))
    state = [v.value for v in augmentation.non_trainable_variables]
    call = jax.jit(lambda state, images: augmentation.stateless_call([], state, images, training=True))
    outputs = []
    for _ in range(steps):
        augmented, state = call(state, images)
        outputs.append(to_numpy(augmented))
    return outputs


@on_jax
def test_the_on_device_augmentation_gives_each_image_one_of_the_allowed_moves(rng):
    max_shift = 2
    images = rng.random((64, 6, 6, 1)).astype("float32") + 1.0  # no zeros: a shift is visible
    first, second = augment_statelessly(images, seed=3, max_shift=max_shift, steps=2)
    shifts = range(-max_shift, max_shift + 1)
    moves = list(itertools.product([False, True], shifts, shifts))  # (flip, down, right)
    chosen = []
    for image, augmented in zip(images, first, strict=True):
        matches = [move for move in moves if np.array_equal(augmented, numpy_flip_and_shift(image, *move))]
        assert matches, "an augmented image is no flip-and-shift of its original"
        chosen.append(matches[0])
    # 64 images draw both flips and several shifts; the carried state draws anew next step,
    # and the same seed draws the same again.
    assert {flip for flip, _, _ in chosen} == {False, True}
    assert len({(down, right) for _, down, right in chosen}) > 5
    assert not np.array_equal(second, first)
    np.testing.assert_array_equal(augment_statelessly(images, seed=3, max_shift=max_shift)[0], first)


@on_jax
@pytest.mark.parametrize("batch_size", [7, 50])  # 7 does not divide 50: the last batch is padded
def test_on_device_accuracy_equals_model_evaluate(rng, batch_size):
    images, labels = random_data(rng, 50)
    model = small_classifier()
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    _, expected = model.evaluate(images, labels, batch_size=batch_size, verbose=0)
    assert evaluate_on_device(model, images, labels, batch_size) == pytest.approx(expected, abs=1e-7)


@on_jax
def test_history_accuracy_is_the_trained_models_accuracy(rng):
    images, labels = random_data(rng, 40)
    model = small_classifier()
    optimizer = keras.optimizers.Adam(1e-2)
    history = train_on_device(
        model,
        (images, labels),
        (images[:30], labels[:30]),
        epochs=2,
        batch_size=8,
        optimizer=optimizer,
        label_smoothing=0.1,
    )
    assert [record["epoch"] for record in history] == [1, 2]
    assert int(to_numpy(optimizer.iterations)) == 2 * 5  # the schedule counted every step
    assert history[1]["seconds"] > history[0]["seconds"] > 0
    # The model's own variables hold the trained weights afterwards.
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    _, accuracy = model.evaluate(images[:30], labels[:30], batch_size=8, verbose=0)
    assert history[-1]["test_accuracy"] == pytest.approx(accuracy, abs=1e-7)


@on_jax
def test_reaching_the_target_stops_training(rng):
    images, labels = random_data(rng, 32)
    arguments = dict(epochs=4, batch_size=8, optimizer=keras.optimizers.SGD(0.01))
    assert (
        len(
            train_on_device(
                small_classifier(), (images, labels), (images, labels), target_accuracy=0.0, **arguments
            )
        )
        == 1
    )
    assert (
        len(
            train_on_device(
                small_classifier(), (images, labels), (images, labels), target_accuracy=1.01, **arguments
            )
        )
        == 4
    )
    seen = []
    stop_after_two = train_on_device(
        small_classifier(),
        (images, labels),
        (images, labels),
        on_epoch_end=lambda record: seen.append(record) or len(seen) == 2,
        **arguments,
    )
    assert len(stop_after_two) == 2 and seen == stop_after_two


@on_jax
def test_trains_a_vit_in_mixed_bfloat16(rng):
    images, labels = random_data(rng, 64, (8, 8, 1), classes=4)
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = vit(
        image_size=8,
        patch_size=4,
        num_classes=4,
        hidden_dim=16,
        num_layers=1,
        num_heads=2,
        intermediate_dim=32,
        channels=1,
        pooling="gap",
        drop_path=0.1,
    )
    before = [to_numpy(w) for w in model.trainable_weights]
    history = train_on_device(
        model,
        (images, labels),
        (images, labels),
        epochs=2,
        batch_size=16,
        optimizer=keras.optimizers.AdamW(1e-3),
    )
    assert all(np.isfinite(record["loss"]) for record in history)
    assert all(w.dtype == "float32" for w in model.trainable_weights)  # bf16 compute, float32 weights
    assert any(not np.allclose(to_numpy(w), b) for w, b in zip(model.trainable_weights, before, strict=True))


@on_jax
def test_rejects_too_few_images_and_images_without_channels(rng):
    images, labels = random_data(rng, 4)
    with pytest.raises(ValueError, match="larger than the 4 training images"):
        train_on_device(
            small_classifier(),
            (images, labels),
            (images, labels),
            epochs=1,
            batch_size=8,
            optimizer=keras.optimizers.SGD(),
        )
    with pytest.raises(ValueError, match=r"\(N, height, width, channels\)"):
        train_on_device(
            small_classifier(),
            (images[..., 0], labels),
            (images, labels),
            epochs=1,
            batch_size=2,
            optimizer=keras.optimizers.SGD(),
        )


@pytest.mark.skipif(keras.backend.backend() == "jax", reason="on JAX the loop runs (tests above)")
def test_other_backends_get_a_clear_error(rng):
    images, labels = random_data(rng, 16)
    backend = keras.backend.backend()
    with pytest.raises(RuntimeError, match=f"needs the JAX backend.*{backend!r}.*KERAS_BACKEND=jax"):
        train_on_device(
            small_classifier(),
            (images, labels),
            (images, labels),
            epochs=1,
            batch_size=8,
            optimizer=keras.optimizers.SGD(),
        )
    with pytest.raises(RuntimeError, match="KERAS_BACKEND=jax"):
        evaluate_on_device(small_classifier(), images, labels)
