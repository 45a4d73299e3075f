"""Data parallelism: one copy of the model per device, each batch split between them."""

import keras


def data_parallel(devices=None):
    """A `keras.distribution.DataParallel` over the devices, or None when there is one device.

    Each device holds all the weights and gets `batch_size / num_devices`
    images; gradients are averaged across devices every step, so training
    follows the same path as on one device with the whole batch. Use it as
    `with distribution.scope():` around building, compiling and fitting.

    Keras's distribution API runs on the JAX backend; on the others this
    returns None (one device).

    Args:
        devices: device names (`keras.distribution.list_devices()` by default).

    Returns:
        A `DataParallel` distribution, or None.

    Example (on one CPU there is nothing to split):

    >>> data_parallel(devices=["cpu:0"]) is None
    True
    """
    if keras.backend.backend() != "jax":
        return None
    devices = list(devices) if devices is not None else keras.distribution.list_devices()
    if len(devices) < 2:
        return None
    return keras.distribution.DataParallel(devices=devices)
