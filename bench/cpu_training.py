"""Training speed on a learner's CPU: keraskit on each Keras backend against plain PyTorch.

Two of lesson 09's ViTs (28x28 grey images, width 64, 4 heads, MLP 128, 10 classes), chosen
with `--model`:

- `patches` (the default): 7x7 patches, 4 blocks, class token; the plain ViT.
- `conv-stem`: three 3x3 stride-2 convolutions (16, 64, 64 filters, ReLU) turn the image
  into a 4x4 map, one token per position, 2 blocks, average pooling; the ViT lesson 09
  trains and tests, and lesson 11 trains on a CPU.

Batch 256 (`--batch` to change it), AdamW, sparse cross-entropy from logits, synthetic images:

- `keras-jax`, `keras-tensorflow`, `keras-torch`: `keraskit.models.vit` trained with
  `model.fit`, what the lessons run, after `keraskit.training.keep_freed_memory()` (the
  effect of the `KEEP_FREED_MEMORY_ENV` that the lessons' kernels are started with);
  images/s over the epochs after the first (which compiles).
- `keras-jax-malloc-default`: `keras-jax` without `keep_freed_memory()`: glibc gives every
  freed block back to the kernel, and XLA's next step faults its pages in again.
- `pytorch`: `transformers.ViTForImageClassification` of the same sizes, in eager PyTorch
  with `torch.optim.AdamW`, the loop a PyTorch user writes; images/s after 5 warm-up steps.
  For `conv-stem`: the same three `torch.nn.Conv2d`, then `transformers.ViTModel` reading
  the 4x4 map as 1x1 patches, its tokens averaged into a linear head. `transformers`' ViT
  always adds a class token, so it attends over 17 tokens where keraskit's attends over 16.
- `keras-torch-compiled` (only when asked for with `--runs`): `keras-torch` compiled with
  `jit_compile=True`, which Keras turns into `torch.compile` of the whole train step; its
  first epoch, the compilation, is left out like the others' and printed on its own.
- `keras-tensorflow-xla` (only when asked for): `keras-tensorflow` with `jit_compile=True`.
  On a machine without a GPU, Keras's `"auto"` turns XLA off for TensorFlow and runs the
  step as a TensorFlow graph, op by op; this run compiles it with XLA, as JAX always does.
- `keras-tensorflow-built` (only when asked for): `keras-tensorflow` with AdamW's variables
  created before `fit` (`optimizer.build(model.trainable_variables)`). Without a distribution
  strategy, Keras on TensorFlow creates them while it traces the first step, and `tf.function`
  then traces the whole step a second time; this run shows what that costs in the first epoch.
- `keras-tensorflow-cosine-decay`, `keras-tensorflow-warmup-cosine` (only when asked for):
  `keras-tensorflow-built` with the rate warming up, then decaying, as the lessons train:
  Keras's `CosineDecay` with its warmup options, or `keraskit.training.warmup_cosine` (the same
  rates, the phase picked with `ops.where`). Their first epochs show what `CosineDecay`'s
  `tf.cond`s cost (bench/README.md, "a branch per weight in the learning-rate schedule").
- `keras-tensorflow-adam`, `keras-tensorflow-adam-warmup-cosine` (only when asked for):
  `keras-tensorflow-built` and `keras-tensorflow-warmup-cosine` with Adam instead of AdamW. AdamW
  reads the learning rate once for every weight it decays and once more for the update, so its
  traced step holds one copy of the schedule per decayed weight, plus one; Adam decays nothing and
  reads it once.
  The four first epochs show what those copies cost (bench/README.md, "the schedule's copies").
- `keras-jax-ynn-off`, `keras-jax-ynn-dots` (only when asked for): `keras-jax` with one XLA
  CPU flag changed. XLA hands groups of operations (dots, reductions, element-wise work
  around them) to the YNNPACK library as one "YNN fusion" each; `-off` turns that off
  (`--xla_cpu_experimental_ynn_fusion_type=`), `-dots` gives it only single dots
  (`=individual_dot`). They show how much of JAX's speed, at a given batch, comes from
  those fusions (bench/README.md, "lesson 10's batch 128").

Each run is its own process (Keras picks its backend once per process). The runs take turns,
round after round, so a slower or busier minute of the machine falls on all of them; the
table gives each one's median over the rounds and its ratio to plain PyTorch, and for the
Keras runs the first epoch's seconds (the same 24 steps, plus tracing or compiling the step).

    python bench/cpu_training.py              # 3 rounds
    python bench/cpu_training.py --rounds 1   # a quicker look
    python bench/cpu_training.py --rounds 2 --runs keras-torch keras-torch-compiled pytorch
    python bench/cpu_training.py --model conv-stem --runs keras-jax keras-torch pytorch
    python bench/cpu_training.py --batch 128 --runs keras-jax keras-jax-ynn-dots keras-torch pytorch
    python bench/cpu_training.py --batch 128 --runs keras-tensorflow-built keras-tensorflow-cosine-decay \
        keras-tensorflow-warmup-cosine
    python bench/cpu_training.py --batch 128 --runs keras-tensorflow-built keras-tensorflow-warmup-cosine \
        keras-tensorflow-adam keras-tensorflow-adam-warmup-cosine

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
# keras-torch-compiled: its compilation alone takes over a minute here.
ON_REQUEST = ("keras-torch-compiled", "keras-tensorflow-xla", "keras-tensorflow-built",
              "keras-tensorflow-cosine-decay", "keras-tensorflow-warmup-cosine", "keras-tensorflow-adam",
              "keras-tensorflow-adam-warmup-cosine", "keras-jax-ynn-off", "keras-jax-ynn-dots")  # fmt: skip
# The XLA flag each keras-jax-ynn-* run sets (an empty list of fusion kinds turns YNN fusions off).
YNN_FUSIONS = {"keras-jax-ynn-off": "", "keras-jax-ynn-dots": "individual_dot"}
SIZES = dict(image_size=28, patch_size=7, channels=1, hidden_dim=64, num_layers=4, num_heads=4,
             intermediate_dim=128, num_classes=10)  # fmt: skip
DESCRIPTIONS = {"patches": "7x7 patches, 4 blocks", "conv-stem": "conv stem, 2 blocks"}
# `keraskit.models.vit`'s arguments for each --model.
MODELS = {
    "patches": dict(SIZES, pooling="cls"),
    "conv-stem": dict(SIZES, patch_size=1, conv_stem=(16, 64, 64), num_layers=2, pooling="gap"),
}
BATCH = 256  # the default; lesson 10 trains at 128
BATCHES_PER_EPOCH = 24
# The backend the lessons' setup cells pick on a machine without a GPU (chosen from this
# benchmark: the fastest of the three on the course's CPU).
COURSE_BACKEND = "torch"


def keras_run(model_name, backend, batch, jit_compile="auto", keep_memory=True, xla_flags="",
              build_optimizer=False, schedule=None, weight_decay=True):  # fmt: skip
    os.environ["KERAS_BACKEND"] = backend
    if xla_flags:  # read once, when JAX starts XLA: before Keras imports it
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {xla_flags}".strip()
    import keras
    import numpy as np

    from keraskit.models import vit
    from keraskit.training import keep_freed_memory, warmup_cosine

    if keep_memory:  # before the first computation, which starts XLA's threads
        keep_freed_memory()

    keras.utils.set_random_seed(0)
    images, labels = _data(np, batch)
    model = vit(**MODELS[model_name])
    learning_rate = 1e-3
    if schedule == "cosine-decay":  # lesson 10's step counts (600, 60 of warmup), in Keras's schedule
        learning_rate = keras.optimizers.schedules.CosineDecay(0.0, 540, warmup_target=1e-3, warmup_steps=60)
    elif schedule == "warmup-cosine":  # the same rates from keraskit
        learning_rate = warmup_cosine(1e-3, total_steps=600, warmup_steps=60)
    # Adam, not AdamW(weight_decay=0): AdamW refuses None, and at 0 still reads the rate for every weight.
    optimizer = (keras.optimizers.AdamW if weight_decay else keras.optimizers.Adam)(learning_rate)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=jit_compile,
    )
    if build_optimizer:  # its variables now, not while the first step is traced
        model.optimizer.build(model.trainable_variables)
    times, faults = [], []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.faults = time.perf_counter(), _page_faults()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)
            faults.append(_page_faults() - self.faults)

    model.fit(images, labels, batch_size=batch, epochs=4, verbose=0, shuffle=False, callbacks=[EpochTimer()])
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


def pytorch_peer(model_name="patches"):
    """The lesson-09 ViT in plain PyTorch and `transformers`, seeded, in training mode."""
    import torch
    import transformers

    torch.manual_seed(0)
    sizes = MODELS[model_name]
    if model_name == "patches":
        config = _transformers_config(
            sizes, image_size=sizes["image_size"], patch_size=sizes["patch_size"],
            num_channels=sizes["channels"], num_labels=sizes["num_classes"],
        )  # fmt: skip
        return transformers.ViTForImageClassification(config).train()
    return conv_stem_peer(sizes).train()


def _transformers_config(sizes, **geometry):
    """`transformers.ViTConfig` with the blocks of `sizes`; `geometry` says what they read."""
    import transformers

    return transformers.ViTConfig(
        hidden_size=sizes["hidden_dim"], num_hidden_layers=sizes["num_layers"],
        num_attention_heads=sizes["num_heads"], intermediate_size=sizes["intermediate_dim"],
        layer_norm_eps=1e-6, **geometry,
    )  # fmt: skip


def conv_stem_peer(sizes):
    """`--model conv-stem` in plain PyTorch: the same 3x3 stride-2 `Conv2d` layers with ReLU,
    then `transformers.ViTModel` reading their 4x4 map as 1x1 patches (it adds a class token:
    17 tokens against keraskit's 16), the mean of the 16 position tokens, a linear head.

    `torch` is imported here, in the child process that runs this model only."""
    import torch
    import transformers

    class ConvStemViT(torch.nn.Module):
        """Convolutions, then transformers' ViT over the map's positions, then the mean token."""

        def __init__(self, sizes):
            super().__init__()
            layers, channels = [], sizes["channels"]
            for filters in sizes["conv_stem"]:
                # padding=1 gives Keras's "same" output size at stride 2 (28 -> 14 -> 7 -> 4).
                layers += [torch.nn.Conv2d(channels, filters, 3, stride=2, padding=1), torch.nn.ReLU()]
                channels = filters
            self.stem = torch.nn.Sequential(*layers)
            # The map's side, read off the convolutions themselves (4 for 28x28 images).
            image = torch.zeros(1, sizes["channels"], sizes["image_size"], sizes["image_size"])
            map_size = self.stem(image).shape[-1]
            config = _transformers_config(sizes, image_size=map_size, patch_size=1, num_channels=channels)
            self.encoder = transformers.ViTModel(config, add_pooling_layer=False)
            self.head = torch.nn.Linear(sizes["hidden_dim"], sizes["num_classes"])

        def forward(self, pixel_values):
            tokens = self.encoder(pixel_values=self.stem(pixel_values)).last_hidden_state
            return self.head(tokens[:, 1:].mean(dim=1))  # the position tokens, not the class token

    return ConvStemViT(sizes)


def pytorch_run(model_name, batch):
    import numpy as np
    import torch

    model = pytorch_peer(model_name)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_function = torch.nn.CrossEntropyLoss()
    images, labels = _data(np, batch)
    images = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())  # PyTorch takes channels first
    labels = torch.from_numpy(labels)

    def step(index):
        rows = slice(index * batch, (index + 1) * batch)
        optimizer.zero_grad()
        outputs = model(pixel_values=images[rows])
        loss = loss_function(getattr(outputs, "logits", outputs), labels[rows])
        loss.backward()
        optimizer.step()

    for index in range(5):
        step(index)
    start, faults = time.perf_counter(), _page_faults()
    for index in range(BATCHES_PER_EPOCH):
        step(index)
    return {
        "images_per_second": BATCHES_PER_EPOCH * batch / (time.perf_counter() - start),
        "page_faults_per_step": (_page_faults() - faults) / BATCHES_PER_EPOCH,
    }


def _data(np, batch, steps=BATCHES_PER_EPOCH):
    """Random images and labels of the benchmark's sizes for `steps` batches of `batch`."""
    rng = np.random.default_rng(0)
    count = batch * steps
    images = rng.random((count, SIZES["image_size"], SIZES["image_size"], SIZES["channels"]), dtype="float32")
    return images, rng.integers(0, SIZES["num_classes"], count)


def child(run, model_name, batch):
    if run == "pytorch":
        result = pytorch_run(model_name, batch)
    elif run == "keras-torch-compiled":
        result = keras_run(model_name, "torch", batch, jit_compile=True)
    elif run == "keras-tensorflow-xla":
        result = keras_run(model_name, "tensorflow", batch, jit_compile=True)
    elif run == "keras-tensorflow-built":
        result = keras_run(model_name, "tensorflow", batch, build_optimizer=True)
    elif run in ("keras-tensorflow-cosine-decay", "keras-tensorflow-warmup-cosine"):
        schedule = run.removeprefix("keras-tensorflow-")
        result = keras_run(model_name, "tensorflow", batch, build_optimizer=True, schedule=schedule)
    elif run in ("keras-tensorflow-adam", "keras-tensorflow-adam-warmup-cosine"):
        schedule = "warmup-cosine" if run.endswith("warmup-cosine") else None
        result = keras_run(model_name, "tensorflow", batch, build_optimizer=True, schedule=schedule,
                           weight_decay=False)  # fmt: skip
    elif run == "keras-jax-malloc-default":
        result = keras_run(model_name, "jax", batch, keep_memory=False)
    elif run in YNN_FUSIONS:
        flag = f"--xla_cpu_experimental_ynn_fusion_type={YNN_FUSIONS[run]}"
        result = keras_run(model_name, "jax", batch, xla_flags=flag)
    else:
        result = keras_run(model_name, run.removeprefix("keras-"), batch)
    print(json.dumps(result))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", choices=tuple(MODELS), default="patches")
    parser.add_argument("--batch", type=int, default=BATCH, help="images per training step")
    parser.add_argument("--runs", nargs="+", choices=RUNS + ON_REQUEST, default=list(RUNS))
    parser.add_argument("--child", choices=RUNS + ON_REQUEST, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.model, args.batch)

    speeds = {run: [] for run in args.runs}
    faults = {run: [] for run in args.runs}
    first_epochs = {run: [] for run in args.runs}
    for round_index in range(args.rounds):
        for run in args.runs:
            command = [sys.executable, __file__, "--child", run, "--model", args.model]
            command += ["--batch", str(args.batch)]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode:
                raise SystemExit(f"{run} failed:\n{result.stderr[-3000:]}")
            measured = json.loads(result.stdout.strip().splitlines()[-1])
            speeds[run].append(measured["images_per_second"])
            faults[run].append(measured["page_faults_per_step"])
            first_epoch = ""
            if "first_epoch_seconds" in measured:
                first_epochs[run].append(measured["first_epoch_seconds"])
                first_epoch = f" (first epoch {first_epochs[run][-1]:.1f} s)"
            print(
                f"round {round_index + 1}: {run} {speeds[run][-1]:,.0f} images/s{first_epoch}",
                file=sys.stderr,
            )

    medians = {run: statistics.median(values) for run, values in speeds.items()}
    title = f"Training the lesson-09 ViT ({DESCRIPTIONS[args.model]}) on the CPU, batch {args.batch}"
    print(_common.caption(f"{title}, {args.rounds} rounds"))
    print("| run | images/s (median) | every round | vs plain PyTorch | page faults per step (median) "
          "| first epoch, s (median) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    reference = medians.get("pytorch")
    for run, median in medians.items():
        ratio = f"{median / reference:.2f}x" if reference else "n/a"
        rounds = ", ".join(f"{value:,.0f}" for value in speeds[run])
        first = f"{statistics.median(first_epochs[run]):.1f}" if first_epochs[run] else "n/a"
        fault = statistics.median(faults[run])
        print(f"| {run} | {median:,.0f} | {rounds} | {ratio} | {fault:,.0f} | {first} |")
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
