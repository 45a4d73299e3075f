"""The learning-rate schedule ViTs are trained with: linear warmup, then cosine decay."""

import keras
from keras import ops


def warmup_cosine(peak_learning_rate, total_steps, warmup_steps, final_learning_rate=0.0):
    """Linear warmup from 0 to `peak_learning_rate`, then a cosine down to `final_learning_rate`.

    Transformers trained with Adam diverge or stall when the first updates
    are large (Adam's second-moment estimates are still noisy), so the rate
    climbs linearly for `warmup_steps`; then it follows half a cosine, which
    spends long at high rates and lands softly (Loshchilov & Hutter, 2017).

    This is Keras's own `CosineDecay` with its warmup options set (as
    `WarmupCosine`, which computes the same numbers without a branch); the
    exercise for lesson 11 builds the same curve from the formula:

        step < warmup:  lr = peak * step / warmup
        otherwise:      lr = final + (peak - final) * (1 + cos(pi * t)) / 2,
                        t = (step - warmup) / (total - warmup)

    Args:
        peak_learning_rate: the rate at the end of warmup.
        total_steps: the whole training length in optimizer steps.
        warmup_steps: steps of linear warmup; less than `total_steps`.
        final_learning_rate: the rate at the last step.

    Returns:
        A `WarmupCosine`: a `keras.optimizers.schedules.CosineDecay`.

    Example:

    >>> schedule = warmup_cosine(1e-3, total_steps=100, warmup_steps=10)
    >>> [round(float(schedule(step)), 6) for step in (0, 5, 10, 55, 100)]
    [0.0, 0.0005, 0.001, 0.0005, 0.0]
    """
    total_steps, warmup_steps = int(total_steps), int(warmup_steps)
    if not 0 <= warmup_steps < total_steps:
        raise ValueError(
            "Expected 0 <= warmup_steps < total_steps. "
            f"Received: warmup_steps={warmup_steps}, total_steps={total_steps}"
        )
    if peak_learning_rate <= 0 or not 0 <= final_learning_rate <= peak_learning_rate:
        raise ValueError(
            "Expected peak_learning_rate > 0 and 0 <= final_learning_rate <= peak_learning_rate. "
            f"Received: peak_learning_rate={peak_learning_rate}, "
            f"final_learning_rate={final_learning_rate}"
        )
    return WarmupCosine(
        initial_learning_rate=0.0,
        decay_steps=total_steps - warmup_steps,
        alpha=final_learning_rate / peak_learning_rate,  # Keras's alpha: final rate as a fraction
        warmup_target=peak_learning_rate,
        warmup_steps=warmup_steps,
    )


@keras.saving.register_keras_serializable(package="keraskit")
class WarmupCosine(keras.optimizers.schedules.CosineDecay):
    """Keras's `CosineDecay` with warmup, its phase picked by `ops.where` instead of `ops.cond`.

    The same arguments and the same rates as `CosineDecay` (its own warmup and
    decay functions compute both phases); only the way one is chosen differs.
    Why: Keras's `AdamW` reads the learning rate once for every weight it
    decays, so the training step of lessons 10 and 12's ViT evaluates the
    schedule 73 times. On TensorFlow each `ops.cond` becomes a `tf.cond`, two
    small graphs that `fit` must build and optimise before the first step;
    `ops.where` adds none. What that saves is measured in bench/README.md
    ("TensorFlow's first epoch: a branch per weight in the learning-rate
    schedule").

    Made by `warmup_cosine`; needs `warmup_target` (the peak rate).

    Example:

    >>> import numpy as np
    >>> schedule = WarmupCosine(0.0, decay_steps=90, warmup_target=1e-3, warmup_steps=10)
    >>> np.round(keras.ops.convert_to_numpy(schedule(np.array([0, 5, 10, 55, 100]))), 6)
    array([0.    , 0.0005, 0.001 , 0.0005, 0.    ], dtype=float32)
    """

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="WarmupCosine",
                 warmup_target=None, warmup_steps=0):  # fmt: skip
        if warmup_target is None:
            raise ValueError(
                "WarmupCosine needs the rate to warm up to. Expected a float warmup_target. "
                f"Received: warmup_target={warmup_target}"
            )
        super().__init__(initial_learning_rate, decay_steps, alpha=alpha, name=name,
                         warmup_target=warmup_target, warmup_steps=warmup_steps)  # fmt: skip

    def __call__(self, step):
        with keras.name_scope(self.name):
            initial = ops.convert_to_tensor(self.initial_learning_rate)
            dtype = initial.dtype
            decay_steps = ops.cast(self.decay_steps, dtype)
            warmup_steps = ops.cast(self.warmup_steps, dtype)
            target = ops.cast(self.warmup_target, dtype)
            step = ops.minimum(ops.cast(step, dtype), decay_steps + warmup_steps)  # flat after the end
            # Both phases, with CosineDecay's own (private) functions, so the rates stay Keras's.
            # At least 1 step to divide by: with no warmup, the unused phase would be step/0.
            warming = self._warmup_function(step, ops.maximum(warmup_steps, 1.0), target, initial)
            decaying = self._decay_function(step - warmup_steps, decay_steps, target, dtype)
            return ops.where(step < warmup_steps, warming, decaying)
