"""Training with the whole dataset resident on the accelerator: one compiled call per epoch (JAX).

A benchmark tool, not part of the library: `bench/time_to_accuracy.py` trains with it,
and `tests/test_resident.py` checks it against `model.fit` and NumPy. It lives in
bench/ because it is JAX-only (`jax.jit`, `jax.lax.scan`, `jax.random`), while the
library imports only `keras` and `numpy` and runs the same on every backend; a Keras
user trains with `model.fit` or `keraskit.training.train_vit`.

Why a second training loop next to `model.fit`? For a small model on a fast GPU,
the arithmetic of one training step takes about a millisecond, and two other
costs are as large or larger:
- copying each batch from host memory to the device (and waiting for it), and
- Python dispatching each step: calling the compiled function, checking its
  arguments, running callbacks, updating progress.
So the GPU sits idle much of the time. This loop removes both. The training
and test sets are copied to the device once. One epoch is then a single
`jax.jit`-compiled call: it shuffles the images with `jax.random.permutation`,
and `jax.lax.scan` runs every batch, gathering it from the resident arrays,
augmenting it (random flips and shifts, the same Keras layers `train_vit` puts
in its model, called statelessly) and taking one optimizer step, all inside the
compiled program. The host only waits for one call per epoch, plus
one more to score the test set.

It follows Keras's guide "Writing a training loop from scratch in JAX": the
model and optimizer stay Keras objects, and their variables travel through the
compiled functions as plain arrays, through `model.stateless_call` and
`optimizer.stateless_apply`. Mixed precision (`"mixed_bfloat16"`) works
unchanged, because `stateless_call` applies the model's dtype policy.

JAX is imported inside the functions, not at the top: on another backend the
module still imports, and its functions raise an error that says what to set.
"""

import time

import keras

from keraskit.training import image_augmentation


def require_jax(function_name):
    """Raises a clear error unless Keras runs on the JAX backend."""
    backend = keras.backend.backend()
    if backend != "jax":
        raise RuntimeError(
            f"`{function_name}` is compiled with JAX (jax.jit, jax.lax.scan), so it needs the "
            f"JAX backend. Received: keras.backend.backend()={backend!r}. Set the environment "
            "variable KERAS_BACKEND=jax before importing keras, or train with `model.fit` or "
            "`keraskit.training.train_vit` on this backend."
        )


def cross_entropy(label_smoothing=0.0):
    """Cross-entropy between integer labels and logits, with optional label smoothing.

    Keras's `SparseCategoricalCrossentropy` has no label smoothing, so with
    smoothing the labels become one-hot vectors for `CategoricalCrossentropy`.
    """
    if not label_smoothing:
        return keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    smoothed = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=label_smoothing)

    def loss(labels, logits):
        return smoothed(keras.ops.one_hot(labels, logits.shape[-1]), logits)

    return loss


def _accuracy_function(model, batch_size):
    """A compiled function: (trainable, non_trainable, images, labels) -> test accuracy."""
    import jax
    import jax.numpy as jnp

    @jax.jit
    def accuracy(trainable, non_trainable, images, labels):
        count = images.shape[0]
        batches = -(-count // batch_size)  # ceiling division: no test image is left out
        padding = batches * batch_size - count
        images = jnp.pad(images, [(0, padding)] + [(0, 0)] * (images.ndim - 1))
        labels = jnp.pad(labels, (0, padding), constant_values=-1)  # -1: never counted as correct
        images = images.reshape((batches, batch_size) + images.shape[1:])
        labels = labels.reshape((batches, batch_size))

        def count_correct(correct, batch):
            batch_images, batch_labels = batch
            logits, _ = model.stateless_call(trainable, non_trainable, batch_images, training=False)
            return correct + jnp.sum(jnp.argmax(logits, axis=-1) == batch_labels), None

        correct, _ = jax.lax.scan(count_correct, jnp.zeros((), "int32"), (images, labels))
        return correct / count

    return accuracy


def evaluate_on_device(model, images, labels, batch_size=1024):
    """Accuracy of `model` on `(images, labels)` in one compiled call on the device.

    Args:
        model: a Keras model whose single output is logits (or probabilities).
        images: array `(N, ...)` of model inputs.
        labels: integer array `(N,)`.
        batch_size: images per forward pass. Every image counts: the last
            batch is padded and the padding is not scored.

    Returns:
        The fraction of images whose highest-scoring class is the label, a float.
    """
    require_jax("evaluate_on_device")
    import jax

    accuracy = _accuracy_function(model, batch_size)
    trainable = [v.value for v in model.trainable_variables]
    non_trainable = [v.value for v in model.non_trainable_variables]
    return float(accuracy(trainable, non_trainable, jax.device_put(images), jax.device_put(labels)))


def _epoch_function(model, optimizer, augmentation, loss, steps, batch_size, shuffle):
    """A compiled function: (state, images, labels, key) -> (new state, mean training loss).

    `state` is (trainable, non_trainable, optimizer variables, augmentation variables):
    the last are the random-number states of the augmentation layers, carried from
    step to step so that every batch draws new flips and shifts.
    """
    import jax
    import jax.numpy as jnp

    def loss_and_updates(trainable, non_trainable, images, labels):
        logits, non_trainable, extra_losses = model.stateless_call(
            trainable, non_trainable, images, training=True, return_losses=True
        )
        # Extra losses are the ones layers add themselves (weight regularizers), as fit adds them.
        return loss(labels, logits) + sum(extra_losses), non_trainable

    loss_and_gradients = jax.value_and_grad(loss_and_updates, has_aux=True)

    @jax.jit
    def train_epoch(state, all_images, all_labels, key):
        def train_step(state, indices):
            trainable, non_trainable, optimizer_state, augmentation_state = state
            images = all_images[indices]  # gathered from the arrays already on the device
            if augmentation is not None:
                images, augmentation_state = augmentation.stateless_call(
                    [], augmentation_state, images, training=True
                )
            (loss_value, non_trainable), gradients = loss_and_gradients(
                trainable, non_trainable, images, all_labels[indices]
            )
            trainable, optimizer_state = optimizer.stateless_apply(optimizer_state, gradients, trainable)
            return (trainable, non_trainable, optimizer_state, augmentation_state), loss_value

        count = all_images.shape[0]
        order = jax.random.permutation(key, count) if shuffle else jnp.arange(count)
        # Whole batches only: the last `count % batch_size` images of this order sit this epoch out.
        batches = order[: steps * batch_size].reshape(steps, batch_size)
        # scan compiles train_step once and runs it `steps` times inside the same program.
        state, losses = jax.lax.scan(train_step, state, batches)
        return state, jnp.mean(losses)

    return train_epoch


def _write_back(model, optimizer, state):
    """Copies the trained values back into the model's and the optimizer's Keras variables."""
    variables = (model.trainable_variables, model.non_trainable_variables, optimizer.variables)
    for some_variables, values in zip(variables, state[:3], strict=True):
        for variable, value in zip(some_variables, values, strict=True):
            variable.assign(value)


def train_on_device(
    model,
    train,
    test,
    *,
    epochs,
    batch_size,
    optimizer,
    loss=None,
    label_smoothing=0.0,
    seed=0,
    shuffle=True,
    flip=True,
    max_shift=2,
    target_accuracy=None,
    eval_batch_size=None,
    on_epoch_end=None,
):
    """Trains a classifier with its data on the device, one compiled call per epoch (JAX backend).

    The training and test arrays are copied to the accelerator once. Each epoch
    is one `jax.jit` call that shuffles on the device, then runs every batch in a
    `jax.lax.scan`: gather the batch, flip and shift each image at random
    (`image_augmentation`'s layers), take one optimizer step. After each epoch one more
    compiled call scores the whole test set. See the module docstring for why.

    Only whole batches are used: each epoch drops the last
    `len(train_images) % batch_size` images of its shuffled order (different
    ones every epoch), so one epoch is `len(train_images) // batch_size` steps.
    The model's variables and the optimizer's are updated at the end of every
    epoch, so `on_epoch_end` can use or save the model.

    Args:
        model: a Keras model from images to class logits (one output).
        train: `(images, labels)`: images `(N, height, width, channels)`, labels
            integers `(N,)`. NumPy or JAX arrays.
        test: `(images, labels)` like `train`, scored after every epoch.
        epochs: the most epochs to train.
        batch_size: images per optimizer step.
        optimizer: a Keras optimizer (its learning-rate schedule counts steps).
        loss: `loss(labels, logits) -> scalar`; default: `cross_entropy(label_smoothing)`.
        label_smoothing: for the default loss.
        seed: seeds the shuffling and the augmentation (not the weights:
            use `keras.utils.set_random_seed` before building the model).
        shuffle: a new random order every epoch; False keeps the given order.
        flip: random left-right flips.
        max_shift: random shifts of up to this many pixels; 0 for none.
        target_accuracy: stop after the first epoch whose test accuracy is at
            least this. None: train all `epochs`.
        eval_batch_size: images per forward pass when scoring; default `batch_size`.
        on_epoch_end: called with each epoch's record (below); if it returns
            True, training stops.

    Returns:
        The history: one dict per epoch with `epoch` (from 1), `seconds` (since
        this function was called, compilation included), `loss` (mean training
        loss of the epoch) and `test_accuracy`.

    Raises:
        RuntimeError: the backend is not JAX.
        ValueError: fewer training images than one batch, or images not 4-D.

    Example (trains a model, and needs the JAX backend, so not run as a doctest):

        model = keraskit.models.vit(image_size=28, patch_size=4, num_classes=10, hidden_dim=64,
                                    num_layers=2, num_heads=2, intermediate_dim=128, channels=1)
        (x_train, y_train), (x_test, y_test), _ = keraskit.course.data.load_images("fashion_mnist")
        history = train_on_device(model, (x_train, y_train), (x_test, y_test), epochs=5,
                                  batch_size=256, optimizer=keras.optimizers.AdamW(1e-3),
                                  label_smoothing=0.1, target_accuracy=0.85)
        history[-1]   # {'epoch': 3, 'seconds': 41.7, 'loss': 0.62, 'test_accuracy': 0.853}
    """
    require_jax("train_on_device")
    import jax

    start = time.perf_counter()
    train_images, train_labels = (jax.device_put(array) for array in train)
    test_images, test_labels = (jax.device_put(array) for array in test)
    if train_images.ndim != 4:
        raise ValueError(
            f"Expected training images (N, height, width, channels). Received shape {train_images.shape}"
        )
    steps = train_images.shape[0] // batch_size
    if steps == 0:
        raise ValueError(
            f"`batch_size`={batch_size} is larger than the {train_images.shape[0]} "
            "training images; one epoch needs at least one whole batch."
        )
    if not optimizer.built:
        optimizer.build(model.trainable_variables)

    augmentation = None
    if flip or max_shift:
        augmentation = image_augmentation(flip, max_shift, seed=seed)
        augmentation.build((None, *train_images.shape[1:]))
    train_epoch = _epoch_function(
        model, optimizer, augmentation, loss or cross_entropy(label_smoothing), steps, batch_size, shuffle
    )
    test_accuracy = _accuracy_function(model, eval_batch_size or batch_size)
    # Plain arrays, not Keras variables: the compiled functions take and return values.
    state = tuple(
        [v.value for v in variables]
        for variables in (
            model.trainable_variables,
            model.non_trainable_variables,
            optimizer.variables,
            augmentation.non_trainable_variables if augmentation is not None else [],
        )
    )
    epoch_keys = jax.random.split(jax.random.key(seed), epochs)

    history = []
    for epoch in range(epochs):
        state, mean_loss = train_epoch(state, train_images, train_labels, epoch_keys[epoch])
        accuracy = float(test_accuracy(state[0], state[1], test_images, test_labels))
        record = dict(
            epoch=epoch + 1,
            seconds=time.perf_counter() - start,
            loss=float(mean_loss),
            test_accuracy=accuracy,
        )
        history.append(record)
        _write_back(model, optimizer, state)
        stop = on_epoch_end(record) if on_epoch_end is not None else False
        if stop or (target_accuracy is not None and accuracy >= target_accuracy):
            break
    return history
