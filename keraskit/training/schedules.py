"""The learning-rate schedule ViTs are trained with: linear warmup, then cosine decay."""

import keras


def warmup_cosine(peak_learning_rate, total_steps, warmup_steps, final_learning_rate=0.0):
    """Linear warmup from 0 to `peak_learning_rate`, then a cosine down to `final_learning_rate`.

    Transformers trained with Adam diverge or stall when the first updates
    are large (Adam's second-moment estimates are still noisy), so the rate
    climbs linearly for `warmup_steps`; then it follows half a cosine, which
    spends long at high rates and lands softly (Loshchilov & Hutter, 2017).

    This is Keras's own `CosineDecay` with its warmup options set; the
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
        A `keras.optimizers.schedules.LearningRateSchedule`.

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
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=total_steps - warmup_steps,
        alpha=final_learning_rate / peak_learning_rate,  # Keras's alpha: final rate as a fraction
        warmup_target=peak_learning_rate,
        warmup_steps=warmup_steps,
    )
