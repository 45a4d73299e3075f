"""The full recipe for training a ViT fast: lesson 11 as one function.

Each choice is one line below, with why:
- bf16 mixed precision on an accelerator (float32 on a CPU, where bf16 is slow);
- XLA compilation of the whole train step (`jit_compile`), several steps per
  call (`steps_per_execution`) so the host never waits between steps;
- fused attention (`keras.ops.dot_product_attention`, cuDNN flash attention on
  JAX + GPU), used by keraskit's attention whenever no weights are requested;
- augmentation as Keras layers inside the model, so it runs on the accelerator
  in the compiled step, not on the host;
- AdamW (no weight decay on biases, norms, tokens and positions), linear warmup
  then cosine decay, label smoothing;
- checkpoint and resume with Keras's `BackupAndRestore`;
- images/s and MFU printed every epoch (`ThroughputMonitor`);
- data parallelism over every device with `keras.distribution` (JAX).
"""

import contextlib
import dataclasses
import time

import keras
import numpy as np

from keraskit.course.data.images import load_images
from keraskit.layers import RandomShift
from keraskit.models.vision_transformer import vit
from keraskit.training.devices import data_parallel
from keraskit.training.flops import accelerator_name, peak_flops, vit_flops
from keraskit.training.schedules import warmup_cosine
from keraskit.training.throughput import ThroughputMonitor

# Parameters that weight decay leaves alone: shifting or scaling them does not
# make the model more complex, so shrinking them towards 0 only hurts.
NO_WEIGHT_DECAY = ["bias", "gamma", "beta", "class_token", "distillation_token", "position_embedding"]


def image_augmentation(flip=True, max_shift=2, seed=None, name="augmentation"):
    """Random horizontal flips and shifts, as layers that run inside the compiled model.

    Active only in training (`training=True`); at test time they pass images
    through unchanged.

    Args:
        flip: random left-right flips.
        max_shift: largest shift in pixels (`keraskit.layers.RandomShift`).
        seed: seed of the random draws; None draws one from Python's `random`.
        name: name of the `Sequential`.

    Returns:
        A `keras.Sequential` of Keras's `RandomFlip` and keraskit's `RandomShift`.

    Example:

    >>> import numpy as np
    >>> augment = image_augmentation()
    >>> images = np.random.rand(2, 8, 8, 1).astype("float32")
    >>> bool(np.allclose(augment(images, training=False), images))
    True
    """
    layers = []
    # Two seeds, not one: flips and shifts drawn from the same stream would be correlated.
    flip_seed, shift_seed = (None, None) if seed is None else (seed, seed + 1)
    if flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=flip_seed))
    if max_shift:
        layers.append(RandomShift(max_shift, seed=shift_seed))
    return keras.Sequential(layers, name=name)


@dataclasses.dataclass
class TrainingRun:
    """What `train_vit` returns."""

    model: keras.Model
    """The trained ViT (without the augmentation layers)."""
    history: dict
    """Per-epoch logs: loss, accuracy, val_*, images_per_second, mfu."""
    test_accuracy: float
    training_seconds: float
    device: str
    """What trained it, e.g. "NVIDIA H100 80GB HBM3 x1" or "CPU x1"."""
    images_per_second: float
    """Speed of the fastest epoch after the first (the first includes compilation)."""
    mfu: float | None


def small_vit_config(image_size, channels, num_classes):
    """A ViT that trains on 28x28 or 32x32 images in minutes: 4x4 patches, width 192, 6 blocks."""
    return dict(image_size=image_size, patch_size=4, channels=channels, num_classes=num_classes,
                dim=192, depth=6, num_heads=3, mlp_dim=384, pooling="gap")


def train_vit(
    dataset="fashion_mnist",
    model_config=None,
    epochs=10,
    batch_size=256,
    peak_learning_rate=1e-3,
    weight_decay=0.05,
    warmup_epochs=1,
    label_smoothing=0.1,
    augment=True,
    precision="auto",
    jit_compile="auto",
    steps_per_execution=1,
    checkpoint_dir=None,
    distribute="auto",
    max_train_images=None,
    callbacks=(),
    verbose="auto",
    seed=0,
):
    """Trains a ViT with the full recipe and returns the model, its history and its speed.

    Args:
        dataset: `"fashion_mnist"` or `"cifar10"` (see `keraskit.course.data.load_images`),
            or arrays `((x_train, y_train), (x_test, y_test))` with float images.
        model_config: arguments for `keraskit.models.vit`; the image size,
            channels and classes are filled in from the data. Default:
            `small_vit_config`.
        epochs: passes over the training set.
        batch_size: global batch size (split across devices when distributed).
        peak_learning_rate: the rate after warmup.
        weight_decay: AdamW's decoupled weight decay.
        warmup_epochs: epochs of linear warmup (can be fractional).
        label_smoothing: the weight moved from the true class to all classes.
        augment: random flips and shifts on the accelerator.
        precision: `"auto"` (bf16 on an accelerator, float32 on a CPU),
            `"bfloat16"` or `"float32"`.
        jit_compile: passed to `compile`. `"auto"` lets Keras decide: XLA on
            JAX, and on TensorFlow with a GPU; off when any layer cannot be
            compiled (Keras's `RandomTranslation`, for one).
        steps_per_execution: train steps per compiled call (1 on the torch
            backend, which does not support more).
        checkpoint_dir: folder for `BackupAndRestore`; a run that is
            interrupted and started again with the same folder resumes from
            its last completed epoch. None: no checkpoints.
        distribute: `"auto"` (data parallel over all devices when there are
            several, JAX only), or False for one device.
        max_train_images: use only this many training images (smaller runs).
        callbacks: more Keras callbacks.
        verbose: passed to `fit`.
        seed: seeds weights, shuffling and augmentation.

    Returns:
        A `TrainingRun`.

    Example (trains for minutes, so not run as a doctest):

        run = train_vit("fashion_mnist", epochs=10)
        run.test_accuracy, run.images_per_second
    """
    keras.utils.set_random_seed(seed)
    if isinstance(dataset, str):
        (x_train, y_train), (x_test, y_test), _ = load_images(dataset)
    else:
        (x_train, y_train), (x_test, y_test) = dataset
    if max_train_images is not None:
        x_train, y_train = x_train[:max_train_images], y_train[:max_train_images]
    if x_train.ndim != 4:
        raise ValueError(f"Expected training images (N, height, width, channels). Received shape "
                         f"{x_train.shape}")
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    config = dict(model_config or small_vit_config(x_train.shape[1], x_train.shape[-1], num_classes))
    config.update(image_size=x_train.shape[1:3], channels=x_train.shape[-1], num_classes=num_classes)

    accelerator = accelerator_name()
    if precision == "auto":
        precision = "bfloat16" if accelerator else "float32"
    if precision not in ("bfloat16", "float32"):
        raise ValueError(f"`precision` must be 'auto', 'bfloat16' or 'float32'. Received: {precision!r}")
    if steps_per_execution != 1 and keras.backend.backend() == "torch":
        raise ValueError("`steps_per_execution` must be 1 on the torch backend. "
                         f"Received: steps_per_execution={steps_per_execution}")
    distribution = data_parallel() if distribute == "auto" else None
    devices = len(distribution.device_mesh.devices.flatten()) if distribution else 1
    if batch_size % devices:
        raise ValueError(f"`batch_size`={batch_size} must split evenly over {devices} devices.")

    # One-hot labels: Keras's CategoricalCrossentropy does the label smoothing.
    y_train_hot = keras.utils.to_categorical(y_train, num_classes).astype("float32")
    y_test_hot = keras.utils.to_categorical(y_test, num_classes).astype("float32")
    steps_per_epoch = int(np.ceil(len(x_train) / batch_size))
    total_steps = epochs * steps_per_epoch
    warmup_steps = min(int(warmup_epochs * steps_per_epoch), total_steps - 1)

    scope = distribution.scope() if distribution else contextlib.nullcontext()
    with scope:
        previous_policy = keras.config.dtype_policy()
        keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
        try:
            model = vit(**config)
            augmentation = image_augmentation() if augment else None
        finally:  # the policy is global: leave it as we found it
            keras.config.set_dtype_policy(previous_policy)
        inputs = keras.Input(x_train.shape[1:], name="images")
        x = augmentation(inputs) if augmentation is not None else inputs
        trainer = keras.Model(inputs, model(x), name=f"{model.name}_training")

        optimizer = keras.optimizers.AdamW(
            warmup_cosine(peak_learning_rate, total_steps, warmup_steps), weight_decay=weight_decay
        )
        optimizer.exclude_from_weight_decay(var_names=NO_WEIGHT_DECAY)
        trainer.compile(
            optimizer=optimizer,
            loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing),
            metrics=["accuracy"],
            jit_compile=jit_compile,
            steps_per_execution=steps_per_execution,
        )
        monitor = ThroughputMonitor(len(x_train), vit_flops(model, training=True), peak_flops())
        all_callbacks = [monitor, *callbacks]
        if checkpoint_dir is not None:
            all_callbacks.insert(0, keras.callbacks.BackupAndRestore(str(checkpoint_dir)))
        start = time.perf_counter()
        history = trainer.fit(
            x_train, y_train_hot, batch_size=batch_size, epochs=epochs,
            validation_data=(x_test, y_test_hot), callbacks=all_callbacks, verbose=verbose,
        )
        seconds = time.perf_counter() - start
    # The last epoch's validation pass already scored the final model on the test set.
    test_accuracy = history.history["val_accuracy"][-1]

    speeds = monitor.images_per_second
    steady = max(speeds[1:]) if len(speeds) > 1 else (speeds[0] if speeds else float("nan"))
    return TrainingRun(
        model=model,
        history=history.history,
        test_accuracy=float(test_accuracy),
        training_seconds=seconds,
        device=f"{accelerator or 'CPU'} x{devices}",
        images_per_second=steady,
        mfu=monitor.mfu(steady),
    )

