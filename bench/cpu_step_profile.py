"""Where a CPU training step goes: keraskit on keras-torch against the same ViT in plain PyTorch.

`cpu_training.py` measures that keraskit on the torch backend trains the lesson-09
ViT slower than `transformers`' ViT in eager PyTorch. This script says where the
difference lies, for one batch of 256 images, in one process (both on PyTorch):

- wall time of a forward pass, and of a forward and backward pass (medians);
- the time PyTorch's operators themselves take (`torch.profiler`, self CPU
  time summed over all operators) for forward and backward;
- a whole training step (forward, loss, backward, AdamW) three ways, taking
  turns over 5 rounds: keraskit through `model.fit`, keraskit in the loop a
  PyTorch user writes (`torch.optim.AdamW` on the Keras model's weights), and
  `transformers`' ViT in that same loop. The first two apart would put the gap
  in `fit`'s machinery or Keras's AdamW; close together, in the model's own
  forward and backward.

Operator time close to equal with wall time far apart means the difference is
Python overhead around the operators (Keras's layer calls), not the maths.

    python bench/cpu_step_profile.py
"""

import os
import statistics
import sys
import time

os.environ["KERAS_BACKEND"] = "torch"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from cpu_training import BATCH, SIZES, pytorch_peer  # noqa: E402

from keraskit.models import vit  # noqa: E402


def build():
    """The two ViTs of the same sizes: keraskit's `vit` and `transformers`' ViTForImageClassification."""
    peer = pytorch_peer()
    keras.utils.set_random_seed(0)
    return vit(**SIZES, pooling="cls"), peer


def models():
    ours, plain = build()
    images = torch.from_numpy(np.random.default_rng(0).random((BATCH, 28, 28, 1), dtype="float32"))
    return {
        "keraskit (keras-torch)": lambda: ours(images, training=True),
        "transformers (PyTorch)": lambda: plain(pixel_values=images.permute(0, 3, 1, 2)).logits,
    }


def wall_ms(step, repeats=15):
    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def operator_ms(step, repeats=5):
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        for _ in range(repeats):
            step()
    return sum(event.self_cpu_time_total for event in profile.key_averages()) / 1e3 / repeats


def layer_call_us(repeats=2000):
    """Microseconds for a tiny Dense layer through Keras's `__call__` and through its bare `call`."""
    dense, x = keras.layers.Dense(4), torch.ones(2, 4)
    dense(x)
    timings = {}
    for name, step in (("__call__", lambda: dense(x)), ("call", lambda: dense.call(x))):
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        timings[name] = 1e6 * (time.perf_counter() - start) / repeats
    return timings


def whole_step_ms(rounds=5, steps=12):
    """Milliseconds per training step (median over rounds): model.fit, and the plain PyTorch loop."""
    rng = np.random.default_rng(0)
    images = rng.random((BATCH * steps, 28, 28, 1), dtype="float32")
    labels = rng.integers(0, SIZES["num_classes"], BATCH * steps)
    fitted, peer = build()
    looped = build()[0]
    fitted.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    loss = torch.nn.CrossEntropyLoss()
    tensors = torch.from_numpy(images), torch.from_numpy(labels)
    channels_first = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())

    def torch_loop(forward, parameters):
        optimizer = torch.optim.AdamW(parameters, lr=1e-3)

        def run():
            for index in range(steps):
                batch = slice(index * BATCH, (index + 1) * BATCH)
                optimizer.zero_grad()
                loss(forward(batch), tensors[1][batch]).backward()
                optimizer.step()

        return run

    runs = {
        "keraskit, model.fit": lambda: fitted.fit(images, labels, batch_size=BATCH, verbose=0, shuffle=False),
        "keraskit, PyTorch loop": torch_loop(
            lambda batch: looped(tensors[0][batch], training=True),
            [weight.value for weight in looped.trainable_weights],
        ),
        "transformers, PyTorch loop": torch_loop(
            lambda batch: peer(pixel_values=channels_first[batch]).logits, peer.parameters()
        ),
    }
    times = {name: [] for name in runs}
    for run in runs.values():  # warm-up: the first fit builds its train function
        run()
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(1e3 * (time.perf_counter() - start) / steps)
    return {name: statistics.median(values) for name, values in times.items()}


def main():
    labels = torch.zeros(BATCH, dtype=torch.long)
    loss = torch.nn.CrossEntropyLoss()
    print("| model | forward ms | forward + backward ms | operators, forward + backward ms |")
    print("| --- | --- | --- | --- |")
    for name, forward in models().items():

        def no_grad_forward(forward=forward):
            with torch.no_grad():
                forward()

        def training_step(forward=forward):
            loss(forward(), labels).backward()

        print(f"| {name} | {wall_ms(no_grad_forward):.1f} | {wall_ms(training_step):.1f} | "
              f"{operator_ms(training_step):.1f} |")  # fmt: skip
    print("\n| whole training step, batch 256 | ms per step (median of 5 rounds) |")
    print("| --- | --- |")
    for name, milliseconds in whole_step_ms().items():
        print(f"| {name} | {milliseconds:.1f} |")
    timings = layer_call_us()
    print(f"\nKeras layer call on a (2, 4) input: Dense.__call__ {timings['__call__']:.0f} us, "
          f"its bare call {timings['call']:.0f} us")  # fmt: skip


if __name__ == "__main__":
    main()
