"""The full recipe for training a ViT fast: lesson 11 as one function, made of reusable pieces.

`train_vit` composes, each a piece you can use on its own:
- `precision_scope`: 16-bit mixed precision where the device computes it natively, float32 on a CPU;
- `image_augmentation` and `with_augmentation`: random flips and shifts as
  layers inside the compiled model, so they run on the accelerator;
- `adamw_optimizer` with `warmup_cosine`: AdamW (weight decay on weight matrices only),
  linear warmup then cosine decay; label smoothing in the loss;
- Keras's `BackupAndRestore`: checkpoint and resume;
- `ThroughputMonitor`: images/s and MFU every epoch;
- `data_parallel`: one model copy per device with `keras.distribution` (JAX).
"""

import contextlib
import dataclasses
import time

import keras
import numpy as np

from keraskit.layers import RandomShift
from keraskit.models import vit
from keraskit.training.devices import data_parallel
from keraskit.training.flops import accelerator_name, peak_flops, vit_flops
from keraskit.training.optimizers import adamw_optimizer
from keraskit.training.precision import precision_scope
from keraskit.training.schedules import warmup_cosine
from keraskit.training.throughput import ThroughputMonitor
from keraskit.validation import check_positive_int


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


def with_augmentation(model, augmentation, name=None):
    """Puts `augmentation` in front of `model`, so it runs in the compiled training step.

    The augmentation layers act only with `training=True`; at inference the
    returned model computes exactly what `model` does. Train the returned
    model; keep using `model` for inference and saving.

    Args:
        model: a functional model with one image input.
        augmentation: a layer or model from images to images (e.g. `image_augmentation()`).
        name: name of the returned model (default: the model's, + "_training").

    Returns:
        A `keras.Model` sharing `model`'s weights.

    Example:

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(2)])
    >>> trainer = with_augmentation(model, image_augmentation(seed=0))
    >>> images = np.random.rand(4, 8, 8, 1).astype("float32")
    >>> bool(np.allclose(trainer.predict(images, verbose=0), model.predict(images, verbose=0)))
    True
    """
    inputs = keras.Input(model.input_shape[1:], name="images")
    return keras.Model(inputs, model(augmentation(inputs)), name=name or f"{model.name}_training")


@dataclasses.dataclass
class TrainingRun:
    """What `train_vit` returns: the trained model, its per-epoch history and its speed.

    Example (`train_vit`'s example shows one filled in):

    >>> [field.name for field in dataclasses.fields(TrainingRun)]  # doctest: +NORMALIZE_WHITESPACE
    ['model', 'history', 'validation_accuracy', 'training_seconds', 'device', 'images_per_second',
     'mfu']
    """

    model: keras.Model
    """The trained ViT (without the augmentation layers), compiled for evaluation with integer
    labels: `run.model.evaluate(x_test, y_test)` gives the loss and the accuracy."""
    history: dict
    """Per-epoch logs: loss, accuracy, val_* (with validation data), images_per_second, mfu."""
    validation_accuracy: float | None
    """Accuracy on the validation data after the last epoch; None without validation data."""
    training_seconds: float
    device: str
    """What trained it, e.g. "NVIDIA H100 80GB HBM3 x1" or "CPU x1"."""
    images_per_second: float
    """Speed of the fastest epoch after the first (the first includes compilation)."""
    mfu: float | None


def small_vit_config(image_size, channels, num_classes):
    """A ViT that trains on 28x28 or 32x32 images in minutes: 4x4 patches, width 192, 6 blocks.

    Example:

    >>> small_vit_config(28, 1, 10)["hidden_dim"]
    192
    """
    return dict(
        image_size=image_size,
        patch_size=4,
        channels=channels,
        num_classes=num_classes,
        hidden_dim=192,
        num_layers=6,
        num_heads=3,
        intermediate_dim=384,
        pooling="gap",
    )


def _check_images(images, labels, name):
    images, labels = np.asarray(images), np.asarray(labels)
    if images.ndim != 4:
        raise ValueError(
            f"`{name}` images must have shape (N, height, width, channels). Received shape {images.shape}."
        )
    if labels.shape != images.shape[:1]:
        raise ValueError(
            f"`{name}` labels must be class indices of shape ({len(images)},). Received shape {labels.shape}."
        )
    return images, labels


def train_vit(
    train_data,
    validation_data=None,
    *,
    model_config=None,
    epochs=10,
    batch_size=256,
    peak_learning_rate=1e-3,
    weight_decay=0.05,
    warmup_epochs=1,
    label_smoothing=0.1,
    augment=True,
    precision="auto",
    steps_per_execution=1,
    checkpoint_dir=None,
    distribute="auto",
    callbacks=(),
    verbose="auto",
    seed=0,
):
    """Trains a ViT with the full recipe and returns the model, its history and its speed.

    It never sees a test set: pass a validation split for the choices you make,
    and evaluate `run.model` on your test set once, at the end.

    Args:
        train_data: `(images, labels)`: float images `(N, height, width, channels)`
            and integer class indices `(N,)`.
        validation_data: optional `(images, labels)` scored after every epoch.
        model_config: arguments for `keraskit.models.vit`; the image size,
            channels and classes are filled in from the data. Default:
            `small_vit_config`.
        epochs: passes over the training set.
        batch_size: global batch size (split across devices when distributed).
        peak_learning_rate: the rate after warmup.
        weight_decay: AdamW's decoupled weight decay (on `decayed_weights` only).
        warmup_epochs: epochs of linear warmup (can be fractional).
        label_smoothing: the weight moved from the true class to all classes.
        augment: random flips and shifts on the accelerator.
        precision: `"auto"` (`resolve_precision`: bf16 on a GPU with bf16
            tensor cores or a TPU, float16 with loss scaling on an older GPU,
            float32 on a CPU), `"bfloat16"`, `"float16"` or `"float32"`.
        steps_per_execution: train steps per compiled call (1 on the torch
            backend, which does not support more).
        checkpoint_dir: folder for `BackupAndRestore`; a run that is
            interrupted and started again with the same folder resumes from
            its last completed epoch. None: no checkpoints.
        distribute: `"auto"` (data parallel over all devices when there are
            several, JAX only), or False for one device.
        callbacks: more Keras callbacks.
        verbose: passed to `fit`.
        seed: seeds weights, shuffling and augmentation.

    Returns:
        A `TrainingRun`.

    Example:

    >>> import numpy as np
    >>> images = np.random.rand(64, 8, 8, 1).astype("float32")
    >>> labels = np.arange(64) % 2
    >>> run = train_vit((images, labels), (images[:16], labels[:16]),  # doctest: +ELLIPSIS
    ...                 epochs=1, batch_size=32, verbose=0,
    ...                 model_config=dict(patch_size=4, hidden_dim=8, num_layers=1, num_heads=2,
    ...                                   intermediate_dim=16))
    epoch 1: ... images/s (includes compilation)
    >>> sorted(run.history)[:3], 0.0 <= run.validation_accuracy <= 1.0
    (['accuracy', 'images_per_second', 'loss'], True)
    >>> loss, accuracy = run.model.evaluate(images, labels, verbose=0)  # compiled for integer labels
    """
    keras.utils.set_random_seed(seed)
    x_train, y_train = _check_images(*train_data, "train_data")
    if validation_data is not None:
        validation_data = _check_images(*validation_data, "validation_data")
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    if steps_per_execution != 1 and keras.backend.backend() == "torch":
        raise ValueError(
            "`steps_per_execution` must be 1 on the torch backend. "
            f"Received: steps_per_execution={steps_per_execution}"
        )
    num_classes = int(y_train.max()) + 1
    if validation_data is not None:
        num_classes = max(num_classes, int(validation_data[1].max()) + 1)
    config = dict(model_config or small_vit_config(x_train.shape[1], x_train.shape[-1], num_classes))
    config.update(image_size=x_train.shape[1:3], channels=x_train.shape[-1], num_classes=num_classes)

    distribution = data_parallel() if distribute == "auto" else None
    devices = len(distribution.device_mesh.devices.flatten()) if distribution else 1
    if batch_size % devices:
        raise ValueError(f"`batch_size`={batch_size} must split evenly over {devices} devices.")

    # One-hot labels: Keras's CategoricalCrossentropy does the label smoothing.
    def one_hot(labels):
        return keras.utils.to_categorical(labels, num_classes).astype("float32")

    steps_per_epoch = int(np.ceil(len(x_train) / batch_size))
    total_steps = epochs * steps_per_epoch
    warmup_steps = min(int(warmup_epochs * steps_per_epoch), total_steps - 1)

    with distribution.scope() if distribution else contextlib.nullcontext():
        with precision_scope(precision):
            model = vit(**config)
            # Training sees one-hot labels (for label smoothing) and, with `augment`, the
            # augmentation layers; `model` stays the plain ViT, compiled below for evaluation.
            augmentation = image_augmentation(seed=seed) if augment else keras.layers.Identity()
            trainer = with_augmentation(model, augmentation)
        schedule = warmup_cosine(peak_learning_rate, total_steps, warmup_steps)
        trainer.compile(
            optimizer=adamw_optimizer(model, schedule, weight_decay=weight_decay),
            loss=keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing),
            metrics=[keras.metrics.CategoricalAccuracy("accuracy")],  # its variables made here, not in fit
            steps_per_execution=steps_per_execution,
        )
        # AdamW's variables now. Left to the first training step, they would be created while
        # TensorFlow traces that step into a graph, and `tf.function` would then trace it again.
        trainer.optimizer.build(trainer.trainable_variables)
        monitor = ThroughputMonitor(len(x_train), vit_flops(model, training=True), peak_flops())
        checkpoints = [keras.callbacks.BackupAndRestore(str(checkpoint_dir))] if checkpoint_dir else []
        start = time.perf_counter()
        history = trainer.fit(
            x_train,
            one_hot(y_train),
            batch_size=batch_size,
            epochs=epochs,
            validation_data=None
            if validation_data is None
            else (validation_data[0], one_hot(validation_data[1])),
            callbacks=[*checkpoints, monitor, *callbacks],
            verbose=verbose,
        )
        seconds = time.perf_counter() - start
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])

    speeds = monitor.images_per_second
    steady = max(speeds[1:]) if len(speeds) > 1 else (speeds[0] if speeds else float("nan"))
    validation_accuracy = history.history.get("val_accuracy", [None])[-1]
    return TrainingRun(
        model=model,
        history=history.history,
        validation_accuracy=None if validation_accuracy is None else float(validation_accuracy),
        training_seconds=seconds,
        device=f"{accelerator_name() or 'CPU'} x{devices}",
        images_per_second=steady,
        mfu=monitor.mfu(steady),
    )
