"""Training speed on a learner's CPU: keraskit on each Keras backend against plain PyTorch.

The lesson-09 ViT (28x28 grey images, 7x7 patches, width 64, 4 blocks of 4 heads, MLP 128,
class token, 10 classes), batch 256, AdamW, sparse cross-entropy from logits, synthetic
images:

- `keras-jax`, `keras-tensorflow`, `keras-torch`: `keraskit.models.vit` trained with
  `model.fit`, what the lessons run, after `keraskit.training.keep_freed_memory()` (the
  effect of the `KEEP_FREED_MEMORY_ENV` that the lessons' kernels are started with);
  images/s over the epochs after the first (which compiles).
- `keras-jax-malloc-default`: `keras-jax` without `keep_freed_memory()`: glibc gives every
  freed block back to the kernel, and XLA's next step faults its pages in again.
- `pytorch`: `transformers.ViTForImageClassification` of the same sizes, in eager PyTorch
  with `torch.optim.AdamW`, the loop a PyTorch user writes; images/s after 5 warm-up steps.
- `keras-torch-compiled` (only when asked for with `--runs`): `keras-torch` compiled with
  `jit_compile=True`, which Keras turns into `torch.compile` of the whole train step; its
  first epoch, the compilation, is left out like the others' and printed on its own.

Each run is its own process (Keras picks its backend once per process). The runs take turns,
round after round, so a slower or busier minute of the machine falls on all of them; the
table gives each one's median over the rounds and its ratio to plain PyTorch.

    python bench/cpu_training.py              # 3 rounds
    python bench/cpu_training.py --rounds 1   # a quicker look
    python bench/cpu_training.py --rounds 2 --runs keras-torch keras-torch-compiled pytorch

The last line is the key ratio: keraskit on the course's CPU backend over plain PyTorch.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

RUNS = ("keras-jax", "keras-jax-malloc-default", "keras-tensorflow", "keras-torch", "pytorch")
ON_REQUEST = ("keras-torch-compiled",)  # its compilation alone takes over a minute here
SIZES = dict(image_size=28, patch_size=7, channels=1, hidden_dim=64, num_layers=4, num_heads=4,
             intermediate_dim=128, num_classes=10)  # fmt: skip
BATCH = 256
BATCHES_PER_EPOCH = 24
# The backend the lessons' setup cells pick on a machine without a GPU (chosen from this
# benchmark: the fastest of the three on the course's CPU).
COURSE_BACKEND = "torch"


def keras_run(backend, jit_compile="auto", keep_memory=True):
    os.environ["KERAS_BACKEND"] = backend
    import keras
    import numpy as np

    from keraskit.models import vit
    from keraskit.training import keep_freed_memory

    if keep_memory:  # before the first computation, which starts XLA's threads
        keep_freed_memory()

    keras.utils.set_random_seed(0)
    images, labels = _data(np)
    model = vit(**SIZES, pooling="cls")
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    times, faults = [], []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.faults = time.perf_counter(), _page_faults()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)
            faults.append(_page_faults() - self.faults)

    model.fit(images, labels, batch_size=BATCH, epochs=4, verbose=0, shuffle=False, callbacks=[EpochTimer()])
    # The first epoch compiles: the speed is the later epochs', the first is reported on its own.
    return {
        "images_per_second": len(images) / statistics.median(times[1:]),
        "first_epoch_seconds": times[0],
        "page_faults_per_step": statistics.median(faults[1:]) / BATCHES_PER_EPOCH,
    }


def _page_faults():
    """Minor page faults of this process so far: each is a 4 KiB page the kernel had to map."""
    import resource  # Unix only, like the machines this benchmark is run on

    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def pytorch_peer():
    """The lesson-09 ViT as `transformers.ViTForImageClassification`, seeded, in training mode."""
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=SIZES["image_size"], patch_size=SIZES["patch_size"], num_channels=SIZES["channels"],
        hidden_size=SIZES["hidden_dim"], num_hidden_layers=SIZES["num_layers"],
        num_attention_heads=SIZES["num_heads"], intermediate_size=SIZES["intermediate_dim"],
        num_labels=SIZES["num_classes"], layer_norm_eps=1e-6,
    )  # fmt: skip
    return transformers.ViTForImageClassification(config).train()


def pytorch_run():
    import numpy as np
    import torch

    model = pytorch_peer()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_function = torch.nn.CrossEntropyLoss()
    images, labels = _data(np)
    images = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())  # PyTorch takes channels first
    labels = torch.from_numpy(labels)

    def step(index):
        batch = slice(index * BATCH, (index + 1) * BATCH)
        optimizer.zero_grad()
        loss = loss_function(model(pixel_values=images[batch]).logits, labels[batch])
        loss.backward()
        optimizer.step()

    for index in range(5):
        step(index)
    start, faults = time.perf_counter(), _page_faults()
    for index in range(BATCHES_PER_EPOCH):
        step(index)
    return {
        "images_per_second": BATCHES_PER_EPOCH * BATCH / (time.perf_counter() - start),
        "page_faults_per_step": (_page_faults() - faults) / BATCHES_PER_EPOCH,
    }


def _data(np):
    rng = np.random.default_rng(0)
    count = BATCH * BATCHES_PER_EPOCH
    images = rng.random((count, SIZES["image_size"], SIZES["image_size"], SIZES["channels"]), dtype="float32")
    return images, rng.integers(0, SIZES["num_classes"], count)


def child(run):
    if run == "pytorch":
        result = pytorch_run()
    elif run == "keras-torch-compiled":
        result = keras_run("torch", jit_compile=True)
    elif run == "keras-jax-malloc-default":
        result = keras_run("jax", keep_memory=False)
    else:
        result = keras_run(run.removeprefix("keras-"))
    print(json.dumps(result))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", nargs="+", choices=RUNS + ON_REQUEST, default=list(RUNS))
    parser.add_argument("--child", choices=RUNS + ON_REQUEST, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)

    speeds = {run: [] for run in args.runs}
    faults = {run: [] for run in args.runs}
    for round_index in range(args.rounds):
        for run in args.runs:
            result = subprocess.run(
                [sys.executable, __file__, "--child", run], capture_output=True, text=True, check=False
            )
            if result.returncode:
                raise SystemExit(f"{run} failed:\n{result.stderr[-3000:]}")
            measured = json.loads(result.stdout.strip().splitlines()[-1])
            speeds[run].append(measured["images_per_second"])
            faults[run].append(measured["page_faults_per_step"])
            first_epoch = (
                f" (first epoch {measured['first_epoch_seconds']:.1f} s)"
                if "first_epoch_seconds" in measured
                else ""
            )
            print(
                f"round {round_index + 1}: {run} {speeds[run][-1]:,.0f} images/s{first_epoch}",
                file=sys.stderr,
            )

    medians = {run: statistics.median(values) for run, values in speeds.items()}
    print(_common.caption(f"Training the lesson-09 ViT on the CPU, batch {BATCH}, {args.rounds} rounds"))
    print("| run | images/s (median) | every round | vs plain PyTorch | page faults per step (median) |")
    print("| --- | --- | --- | --- | --- |")
    reference = medians.get("pytorch")
    for run, median in medians.items():
        ratio = f"{median / reference:.2f}x" if reference else "n/a"
        rounds = ", ".join(f"{value:,.0f}" for value in speeds[run])
        print(f"| {run} | {median:,.0f} | {rounds} | {ratio} | {statistics.median(faults[run]):,.0f} |")
    keras_runs = {run: median for run, median in medians.items() if run.startswith("keras-")}
    course = f"keras-{COURSE_BACKEND}"
    if reference and keras_runs:
        fastest = max(keras_runs, key=keras_runs.get)
        print(
            f"\nfastest Keras backend here: {fastest} ({keras_runs[fastest] / reference:.2f}x plain PyTorch)"
        )
    if reference and course in medians:
        print(f"keraskit on {COURSE_BACKEND} (the course's CPU backend) vs plain PyTorch: "
              f"{medians[course] / reference:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
