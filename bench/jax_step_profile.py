"""Where JAX's CPU training step goes, at two batch sizes: the profile behind lesson 10's batch 128.

On one of our machines (an Intel Xeon, 2 cores) keraskit on JAX trained lesson 09's
plain ViT (7x7 patches, 4 blocks) at about 1,500 images/s at batch 128 and 2,100 to
3,000 at batch 256: a step of 128 images took about as long as one of 256. This
script shows where the step's time goes at each batch size, each in its own process (in
one process, a model trained after another once ran at under half its speed per image), the
batch sizes taking turns over `--rounds`, medians reported:

- milliseconds per step, wall clock; beside it, per step, the kernel's count of minor
  page faults and the CPU time spent in the kernel (`getrusage`), which a step spends
  mapping and zero-filling memory rather than computing. One `model.fit` of four epochs
  over the same steps: the first compiles, the second is untraced, the third traced, the
  fourth untraced again, each timed from its start to its end. Tracing can change
  what it measures (on the AMD machine it brought thousands of page faults per step that
  the untraced steps did not have): read the event kinds only where the traced wall clock
  agrees with the untraced ones;
- XLA's own events from `jax.profiler.trace` (with the Perfetto trace it writes),
  summed by kind and divided by the number of steps. A kind is an event's name
  without its number: `copy_bitcast_fusion.12` and `copy_bitcast_fusion.3` are both
  `copy_bitcast_fusion`. Events on both cores are added up, and a step's thread also
  waits for its work (`wait-for-completion` and the like), so the column sums exceed
  the wall time; compare one kind across the batch sizes, not the kinds with the wall.

Fusions XLA hands to the YNNPACK library are `ynn_fusion`; copies that change a
tensor's layout (the transposes around attention's einsums, for instance) are
`copy_*` and `transpose_*`. A kind whose time per step does not halve with the batch
is where a smaller batch loses.

Runs on the CPU with the `keep_freed_memory()` setting the lessons use; synthetic images.

    python bench/jax_step_profile.py                    # batches 128 and 256, 3 rounds
    python bench/jax_step_profile.py --batches 64 128 256 --steps 24 --rounds 1
"""

import argparse
import collections
import gzip
import json
import os
import pathlib
import re
import resource  # Unix only, like the machines this benchmark is run on
import statistics
import subprocess
import sys
import tempfile
import time

os.environ["KERAS_BACKEND"] = "jax"
os.environ.setdefault("JAX_PLATFORMS", "cpu")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from keraskit.training import keep_freed_memory  # noqa: E402

keep_freed_memory()  # before the first computation, which starts XLA's threads

import _common  # noqa: E402
import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from cpu_training import MODELS, _data  # noqa: E402

from keraskit.models import vit  # noqa: E402

# Events that are the profiler's or Python's own bookkeeping, not XLA's work.
NOT_XLA = re.compile(r"^(\$|TraceContext|ThreadpoolListener|PjitFunction|ProfilerSession)")


def event_kind(name):
    """`copy_bitcast_fusion.12` -> `copy_bitcast_fusion`: one row for all events of a kind."""
    return re.sub(r"(\.\d+)+$", "", name)


def milliseconds_by_kind(trace_folder):
    """Sum the durations in the Perfetto trace that `jax.profiler.trace` wrote, by event kind."""
    traces = sorted(pathlib.Path(trace_folder).rglob("*.trace.json.gz"))
    if not traces:
        raise RuntimeError(f"jax.profiler.trace wrote no *.trace.json.gz under {trace_folder}")
    with gzip.open(traces[-1], "rt") as f:
        events = json.load(f)["traceEvents"]
    totals = collections.Counter()
    for event in events:
        if event.get("ph") == "X" and "dur" in event and not NOT_XLA.match(event.get("name", "")):
            totals[event_kind(event["name"])] += event["dur"] / 1e3  # microseconds -> ms
    return totals


# The epochs of one `model.fit`: the first compiles; the trace covers only the third, so the
# second and fourth show the same steps untraced, before and after it.
PHASES = ("compile", "untraced before", "traced", "untraced after")
MEASURES = ("wall clock (ms)", "minor page faults", "kernel CPU time (ms)")  # EpochMeter's, per step


def profile(batch, steps):
    """Train one model for `len(PHASES)` epochs of `steps` steps at `batch`, tracing one of them:
    each later epoch's `EpochMeter` figures, and the traced epoch's ms per step by event kind."""
    keras.utils.set_random_seed(0)
    model = vit(**MODELS["patches"])
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    images, labels = _data(np, batch, steps)
    with tempfile.TemporaryDirectory() as folder:
        meter = EpochMeter(steps, trace_epoch=PHASES.index("traced"), trace_folder=folder)
        model.fit(images, labels, batch_size=batch, epochs=len(PHASES), verbose=0, shuffle=False,
                  callbacks=[meter])  # fmt: skip
        totals = milliseconds_by_kind(folder)
    result = {
        f"{name}, {phase}": value
        for phase, figures in zip(PHASES, meter.epochs, strict=True)
        if phase != "compile"
        for name, value in figures.items()
    }
    return {**result, "kinds": {kind: total / steps for kind, total in totals.items()}}


class EpochMeter(keras.callbacks.Callback):
    """Per step of each epoch: wall ms, minor page faults and kernel CPU ms (`getrusage`);
    `jax.profiler` traces epoch `trace_epoch` alone. Keras waits for an epoch's last step before
    `on_epoch_end`, so the wall clock covers the computation, not just its dispatch."""

    def __init__(self, steps, trace_epoch, trace_folder):
        super().__init__()
        self.steps, self.trace_epoch, self.trace_folder = steps, trace_epoch, trace_folder
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.trace_epoch:
            options = jax.profiler.ProfileOptions()
            options.python_tracer_level = 0  # XLA's events only: Python's would swamp the trace
            jax.profiler.start_trace(self.trace_folder, create_perfetto_trace=True, profiler_options=options)
        self.usage, self.start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        wall, usage = time.perf_counter() - self.start, resource.getrusage(resource.RUSAGE_SELF)
        if epoch == self.trace_epoch:
            jax.profiler.stop_trace()
        self.epochs.append({
            "wall clock (ms)": 1e3 * wall / self.steps,
            "minor page faults": (usage.ru_minflt - self.usage.ru_minflt) / self.steps,
            "kernel CPU time (ms)": 1e3 * (usage.ru_stime - self.usage.ru_stime) / self.steps,
        })  # fmt: skip


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--steps", type=int, default=16, help="training steps per epoch (4 epochs)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--top", type=int, default=12, help="rows: the kinds that take longest")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(profile(args.child, args.steps)))
        return

    measured = {batch: [] for batch in args.batches}
    for round_index in range(args.rounds):
        for batch in args.batches:
            command = [sys.executable, __file__, "--child", str(batch), "--steps", str(args.steps)]
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode:
                raise SystemExit(f"batch {batch} failed:\n{result.stderr[-3000:]}")
            measured[batch].append(json.loads(result.stdout.strip().splitlines()[-1]))
            wall = measured[batch][-1]["wall clock (ms), untraced before"]
            print(f"round {round_index + 1}: batch {batch} {wall:.1f} ms per step", file=sys.stderr)
    kinds = {batch: median_by_kind(runs) for batch, runs in measured.items()}
    names = [f"{measure}, {phase}" for measure in MEASURES for phase in PHASES if phase != "compile"]
    rows = {
        name: {batch: statistics.median(run[name] for run in runs) for batch, runs in measured.items()}
        for name in names
    }
    walls = rows["wall clock (ms), untraced before"]

    first, last = args.batches[0], args.batches[-1]
    for kind in sorted(set().union(*kinds.values()), key=lambda kind: -longest(kinds, kind))[: args.top]:
        rows[f"{kind} (ms)"] = {batch: kinds[batch].get(kind, 0.0) for batch in args.batches}
    title = f"Where JAX's training step goes, lesson 09's plain ViT, {args.steps} steps, {args.rounds} rounds"
    print(_common.caption(title))
    header = " | ".join(f"batch {batch}" for batch in args.batches)
    print(f"| per training step | {header} | images per unit of it, batch {first} / batch {last} |")
    print("|" + " --- |" * (len(args.batches) + 2))
    for name, per_batch in rows.items():
        cells = " | ".join(f"{per_batch[batch]:.1f}" for batch in args.batches)
        print(f"| {name} | {cells} | {relative_speed(per_batch, first, last)} |")
    print(f"\nwall clock per image, batch {first} over batch {last}: "
          f"{(walls[first] / first) / (walls[last] / last):.2f}x")  # fmt: skip


def median_by_kind(runs):
    """Each kind's median time per step over the rounds (0 in a round that did not see it)."""
    every_kind = set().union(*(run["kinds"] for run in runs))
    return {kind: statistics.median(run["kinds"].get(kind, 0.0) for run in runs) for kind in every_kind}


def longest(kinds, kind):
    """A kind's largest time per step over the batch sizes: the table's rows, longest first."""
    return max(per_batch.get(kind, 0.0) for per_batch in kinds.values())


def relative_speed(per_batch, first, last):
    """Images per unit (ms, fault) at `first` over those at `last`: below 1, the row handles fewer
    images per unit at the first (smaller) batch, so it does not shrink with the batch. Left out
    under one unit per step, where rounding and noise would decide it."""
    if min(per_batch[first], per_batch[last]) < 1:
        return "n/a"
    return f"{(first / per_batch[first]) / (last / per_batch[last]):.2f}"


if __name__ == "__main__":
    main()
