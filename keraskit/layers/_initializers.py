"""A fresh copy of an initializer for every weight that uses it.

A Keras 3 initializer created without a seed picks one seed when it is created
and draws the same values at every call. Handing one instance to several
sub-layers would start them all from the same numbers: W_Q = W_K = W_V, and an
attention that at first looks mostly at each token itself. Keras's own
MultiHeadAttention clones its initializers per sub-layer for this reason; so do
keraskit's layers, and a seeded initializer gets a different seed, derived from
its own, for each weight, so it stays reproducible without repeating itself.
"""

import zlib

import keras


def fresh(initializer, part):
    """A new instance of `initializer` for the weight named `part`, with its own draws."""
    initializer = keras.initializers.get(initializer)
    config = initializer.get_config()
    if isinstance(config.get("seed"), int):
        config["seed"] = zlib.crc32(f"{config['seed']}/{part}".encode()) % (2**31 - 1)
    return initializer.__class__.from_config(config)
