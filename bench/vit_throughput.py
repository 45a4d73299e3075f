"""Training throughput of ViT-B/16: Keras on JAX, Keras on PyTorch, and timm + torch.compile.

Synthetic images and labels already on the accelerator, AdamW, bf16 mixed precision,
one training step after another. For each run: images per second (median over steps
after warm-up) and MFU, model FLOPs utilization: training FLOPs per image
(`keraskit.training.vit_flops`, 3x the forward multiply-adds x 2) x images/s over the
accelerator's dense bf16 peak (`keraskit.training.peak_flops`; 989 TFLOP/s on an H100
SXM). All runs count the same FLOPs: timm's `vit_base_patch16_224` is the same network.

- `keras-jax`, `keras-torch`: `keraskit.models.vit_base`, compiled by Keras
  (`model.compile(jit_compile="auto")`: XLA on JAX, eager on PyTorch), trained with
  Keras's own `train_on_batch`, the step `model.fit` runs.
- `timm`: `timm.create_model("vit_base_patch16_224")` with `torch.compile` and
  `torch.autocast(bfloat16)`, `torch.optim.AdamW(fused=True)`: the PyTorch peer.
On JAX the script also checks that attention runs as cuDNN's fused (flash) kernel: it
counts the cuDNN attention calls in the compiled forward pass.

Each run is its own process (Keras picks its backend once per process), one after
another on the same accelerator.

Run:
    python bench/vit_throughput.py                 # the benchmark (on a GPU)
    python bench/vit_throughput.py --runs keras-jax timm
On a CPU the defaults shrink to a smoke test (ViT-Ti, 32x32 images, patch 4, batch 32)
and the table says so: CPU figures say nothing about a GPU.

The last line is the key ratio: Keras-JAX images/s over timm's.
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

RUNS = ("keras-jax", "keras-torch", "timm")
BACKEND_OF = {"keras-jax": "jax", "keras-torch": "torch", "timm": "torch"}
GPU_SETTINGS = dict(model="vit_base", image_size=224, patch_size=16, batch=256, steps=40, warmup=5)
CPU_SETTINGS = dict(model="vit_tiny", image_size=32, patch_size=4, batch=32, steps=8, warmup=2)
# keraskit.models presets; timm is built from the same VIT_PRESETS entry. (Names only here:
# the parent process does not import Keras, so it never takes the GPU from the runs.)
MODELS = ("vit_tiny", "vit_small", "vit_base", "vit_large")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--model", choices=MODELS, help="default vit_base on a GPU")
    parser.add_argument("--image-size", type=int, help="default 224 on a GPU")
    parser.add_argument("--patch-size", type=int, help="default 16 on a GPU")
    parser.add_argument("--batch", type=int, help="default 256 on a GPU")
    parser.add_argument("--steps", type=int, help="timed steps per run (default 40 on a GPU)")
    parser.add_argument("--warmup", type=int, help="untimed steps first, compilation included")
    parser.add_argument("--child", choices=RUNS, help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def has_gpu():
    """Whether an NVIDIA GPU is visible, without importing a framework in the parent."""
    try:
        return subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def settings_for(args, gpu):
    settings = dict(GPU_SETTINGS if gpu else CPU_SETTINGS)
    for key in settings:
        value = getattr(args, key)
        if value is not None:
            settings[key] = value
    settings["gpu"] = gpu
    return settings


def synthetic_batch(settings, layout="channels_last"):
    import numpy as np

    rng = np.random.default_rng(0)
    size, batch = settings["image_size"], settings["batch"]
    shape = (batch, size, size, 3) if layout == "channels_last" else (batch, 3, size, size)
    return rng.normal(size=shape).astype("float32"), rng.integers(0, 1000, size=batch).astype("int32")


def time_steps(step, settings):
    """Seconds of each of `steps` timed calls of `step` (which waits for the device), after warm-up."""
    for _ in range(settings["warmup"]):
        step()
    times = []
    for _ in range(settings["steps"]):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


# ---------------------------------------------------------------- Keras (JAX or PyTorch)
def measure_keras(settings):
    import keras

    from keraskit import models
    from keraskit.training import accelerator_name, peak_flops, vit_flops

    if settings["gpu"]:
        keras.config.set_dtype_policy("mixed_bfloat16")
    model = getattr(models, settings["model"])(
        num_classes=1000, image_size=settings["image_size"], patch_size=settings["patch_size"]
    )
    model.compile(
        # Plain AdamW, decaying every weight, as timm's run below does: the same update for both.
        optimizer=keras.optimizers.AdamW(learning_rate=1e-4, weight_decay=0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    images, labels = synthetic_batch(settings)
    # On the accelerator once, as a data pipeline that keeps up would deliver them.
    images, labels = keras.ops.convert_to_tensor(images), keras.ops.convert_to_tensor(labels)
    # train_on_batch returns the loss as a Python float, so each call waits for its step.
    times = time_steps(lambda: model.train_on_batch(images, labels), settings)
    result = dict(
        flops_per_image=vit_flops(model, training=True),
        peak=peak_flops(),
        device=accelerator_name() or "CPU",
        times=times,
        dtype=keras.config.dtype_policy().name,
    )
    if keras.backend.backend() == "jax":
        result["flash"] = cudnn_attention_evidence(model, images[:8])
    return result


def cudnn_attention_evidence(model, images):
    """On JAX: does cuDNN flash attention run? Two checks, as one line for the table."""
    import jax
    import keras

    # 1. Asking for flash attention explicitly raises where it cannot run.
    q = keras.ops.ones((2, 197, 12, 64), dtype="bfloat16")
    try:
        jax.block_until_ready(keras.ops.dot_product_attention(q, q, q, flash_attention=True))
        explicit = "flash_attention=True runs"
    except Exception as error:  # noqa: BLE001 (we report whatever it says)
        explicit = f"flash_attention=True raises {type(error).__name__}"
    # 2. The compiled forward pass of the model itself: count cuDNN's attention calls.
    trainable = [v.value for v in model.trainable_variables]
    frozen = [v.value for v in model.non_trainable_variables]
    forward = jax.jit(lambda t, f, x: model.stateless_call(t, f, x)[0])
    program = forward.lower(trainable, frozen, images).compile().as_text()
    calls = program.count("__cudnn$fmha")
    return f"{explicit}; {calls} cuDNN attention calls in the compiled forward pass"


# ---------------------------------------------------------------- timm + torch.compile
def timm_arguments(settings):
    """timm's `VisionTransformer` arguments for the keraskit preset in `settings`: the same network."""
    from keraskit.models.vision_transformer import VIT_PRESETS

    preset = VIT_PRESETS[settings["model"]]
    return dict(
        img_size=settings["image_size"],
        patch_size=settings["patch_size"],
        num_classes=1000,
        embed_dim=preset["hidden_dim"],
        depth=preset["num_layers"],
        num_heads=preset["num_heads"],
        mlp_ratio=preset["intermediate_dim"] / preset["hidden_dim"],
    )


def measure_timm(settings):
    import torch

    try:
        import timm
    except ImportError as error:
        return dict(
            error=f"timm is not importable here ({error}); `pip install timm` "
            "next to a CUDA build of PyTorch and torchvision"
        )
    from keraskit.training import peak_flops

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = timm.models.vision_transformer.VisionTransformer(**timm_arguments(settings)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05, fused=device == "cuda")
    compiled = torch.compile(model)
    images, labels = synthetic_batch(settings, layout="channels_first")
    images = torch.from_numpy(images).to(device)
    labels = torch.from_numpy(labels).long().to(device)
    loss_function = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=settings["gpu"]):
            loss = loss_function(compiled(images), labels)
        loss.backward()
        optimizer.step()
        return loss.item()  # waits for the step, as Keras's train_on_batch does

    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
    return dict(
        times=time_steps(step, settings),
        device=name,
        peak=peak_flops(name) if device == "cuda" else None,
        dtype="bf16 autocast" if settings["gpu"] else "float32",
    )


# ---------------------------------------------------------------- the parent: one process per run
def run_child(run, settings):
    command = [sys.executable, os.path.abspath(__file__), "--child", run, "--settings", json.dumps(settings)]
    environment = dict(os.environ, KERAS_BACKEND=BACKEND_OF[run], TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(command, env=environment, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        return dict(error=f"the run failed with exit code {result.returncode} (its errors are above)")
    return json.loads(result.stdout.strip().splitlines()[-1])


def table_row(run, result, settings, flops_per_image):
    if "error" in result:
        return {"run": run, "images/s": "-", "MFU": "-", "notes": result["error"]}
    seconds = _common.median(result["times"])
    images_per_second = settings["batch"] / seconds
    mfu = images_per_second * flops_per_image / result["peak"] if result.get("peak") else None
    return {
        "run": run,
        "device": result["device"],
        "dtype": result["dtype"],
        "step ms": seconds * 1e3,
        "images/s": images_per_second,
        "MFU": f"{100 * mfu:.1f}%" if mfu is not None else "n/a (no GPU peak)",
        "notes": result.get("flash", ""),
    }


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        settings = json.loads(args.settings)
        result = measure_timm(settings) if args.child == "timm" else measure_keras(settings)
        print(json.dumps(result))
        return
    settings = settings_for(args, has_gpu())
    results = {run: run_child(run, settings) for run in args.runs}
    flops = next((r["flops_per_image"] for r in results.values() if "flops_per_image" in r), None)
    rows = [table_row(run, results[run], settings, flops) for run in args.runs]
    print(
        _common.caption(
            f"{settings['model']}/{settings['patch_size']} training throughput, "
            f"{settings['image_size']}x{settings['image_size']}, batch {settings['batch']}, AdamW"
        )
    )
    if not settings["gpu"]:
        print("No GPU here: these are CPU smoke settings (a small model, small images), not the benchmark.\n")
    print(
        f"Median of {settings['steps']} steps after {settings['warmup']} warm-up steps; "
        f"{(flops or 0) / 1e9:.1f} GFLOP per training image; "
        f"{_common.versions('keras', 'jax', 'torch', 'timm')}.\n"
    )
    print(_common.markdown_table(rows, ["run", "device", "dtype", "step ms", "images/s", "MFU", "notes"]))
    speed = {row["run"]: row["images/s"] for row in rows if isinstance(row["images/s"], float)}
    if "keras-jax" in speed and "timm" in speed:
        print(f"\nkeras-jax / timm images/s: {speed['keras-jax'] / speed['timm']:.2f}x")
    elif "keras-jax" in speed:
        print(f"\nkeras-jax: {speed['keras-jax']:,.0f} images/s (no timm figure in this run)")
    else:
        print("\nno keras-jax figure in this run")


if __name__ == "__main__":
    main()
