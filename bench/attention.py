"""Forward + backward time of one Transformer encoder block: keraskit against its peers.

The peers compute the same function, with the same weights, on the same inputs:
- `keraskit`: `keraskit.layers.TransformerBlock` (query, key, value and output
  projections as `EinsumDense` layers, `keras.ops.dot_product_attention`);
- `keras MHA`: the block as the keras-io ViT example writes it, on
  `keras.layers.MultiHeadAttention`;
- `KerasHub`: `keras_hub.layers.TransformerEncoder(normalize_first=True)`.
Before timing, the script copies keraskit's weights into both peers and prints how
far their outputs are from keraskit's: a ratio between two different functions would
mean nothing. keraskit's attention weights have the layout of Keras's
`MultiHeadAttention` (which KerasHub's encoder uses too), so the copy is one to one.

Each step is the gradient of a scalar loss with respect to every weight, compiled the
way Keras compiles a train step on that backend: `jax.jit` on JAX, `tf.function(
jit_compile=True)` (XLA) on TensorFlow, eager PyTorch on torch. Peers take turns
within every repeat (interleaved), and the table reports medians.

Run:
    python bench/attention.py                  # every backend, one process each
    python bench/attention.py --backend jax    # one backend
    python bench/attention.py --batch 8 --repeats 5   # quicker, on a laptop

The last line is the key ratio: keraskit's time over the best peer's, the worst case
over all shapes and backends (<= 1.0 means keraskit is never slower).
"""

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402

BACKENDS = ("jax", "tensorflow", "torch")
# (tokens, width, heads): ViT-Ti and ViT-S widths, CIFAR-size (64 patches + class
# token) and ImageNet-size (196 + 1) sequences.
SHAPES = [(65, 192, 3), (65, 384, 6), (197, 192, 3), (197, 384, 6)]
PEERS = ("keraskit", "keras MHA", "KerasHub")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=BACKENDS, help="one backend (default: all, one process each)")
    parser.add_argument("--batch", type=int, default=64, help="images per step (default 64)")
    parser.add_argument("--repeats", type=int, default=15, help="timed steps per peer and shape")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (compilation)")
    parser.add_argument(
        "--dtype",
        choices=("auto", "float32", "bfloat16"),
        default="auto",
        help="compute dtype; auto = bfloat16 on a GPU, float32 on a CPU",
    )
    parser.add_argument(
        "--shapes",
        nargs="+",
        metavar="TOKENSxWIDTH",
        help="e.g. 197x384 (heads = width / 64); default: all four ViT shapes",
    )
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child -> parent
    return parser.parse_args(argv)


# ---------------------------------------------------------------- the three blocks
def keraskit_block(width, heads, dtype):
    from keraskit.layers import TransformerBlock

    return TransformerBlock(heads, intermediate_dim=4 * width, dtype=dtype)


class KerasMHABlock:
    """The keras-io ViT block: LayerNorm -> MultiHeadAttention -> add; LayerNorm -> MLP -> add."""

    def __new__(cls, width, heads, dtype):
        import keras

        inputs = keras.Input((None, width), dtype="float32")
        norm1 = keras.layers.LayerNormalization(epsilon=1e-6, dtype=dtype, name="norm1")
        attention = keras.layers.MultiHeadAttention(heads, width // heads, dtype=dtype, name="mha")
        norm2 = keras.layers.LayerNormalization(epsilon=1e-6, dtype=dtype, name="norm2")
        hidden = keras.layers.Dense(4 * width, activation="gelu", dtype=dtype, name="mlp_hidden")
        output = keras.layers.Dense(width, dtype=dtype, name="mlp_output")
        x = norm1(inputs)
        x = keras.layers.Add(dtype=dtype)([attention(x, x), inputs])
        outputs = keras.layers.Add(dtype=dtype)([output(hidden(norm2(x))), x])
        return keras.Model(inputs, outputs, name="keras_mha_block")


def keras_hub_block(width, heads, dtype):
    import keras_hub

    return keras_hub.layers.TransformerEncoder(
        intermediate_dim=4 * width,
        num_heads=heads,
        activation="gelu",
        layer_norm_epsilon=1e-6,
        normalize_first=True,
        dtype=dtype,
    )


def copy_weights(block, peer, kind):
    """Give `peer` keraskit's weights, so both compute exactly the same function.

    Layer for layer, weight for weight: keraskit's projections are Keras MHA's
    (kernels `(hidden_dim, num_heads, head_dim)` and `(num_heads, head_dim, hidden_dim)`),
    and `set_weights` raises if a shape differs, so a layout that drifts apart fails here.
    """
    if kind == "keras MHA":
        norm1, norm2 = peer.get_layer("norm1"), peer.get_layer("norm2")
        mha = peer.get_layer("mha")
        hidden, output = peer.get_layer("mlp_hidden"), peer.get_layer("mlp_output")
    else:
        norm1, norm2 = peer._self_attention_layer_norm, peer._feedforward_layer_norm
        mha = peer._self_attention_layer
        hidden, output = peer._feedforward_intermediate_dense, peer._feedforward_output_dense
    attention = block.attention
    pairs = (
        (attention.query_dense, mha._query_dense),
        (attention.key_dense, mha._key_dense),
        (attention.value_dense, mha._value_dense),
        (attention.output_dense, mha._output_dense),
        (block.attention_norm, norm1),
        (block.mlp_norm, norm2),
        (block.mlp_hidden, hidden),
        (block.mlp_output, output),
    )
    for ours, theirs in pairs:
        theirs.set_weights(ours.get_weights())


# ---------------------------------------------------------------- one timed step per backend
def gradient_step(layer, x):
    """A function that computes d(mean(y^2))/d(weights) for `y = layer(x)` and waits for it."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        trainable = [v.value for v in layer.trainable_variables]
        frozen = [v.value for v in layer.non_trainable_variables]

        def loss(trainable, x):
            y, _ = layer.stateless_call(trainable, frozen, x, training=True)
            return jnp.mean(jnp.square(y.astype("float32")))

        step = jax.jit(jax.grad(loss))
        return lambda: jax.block_until_ready(step(trainable, x))
    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function(jit_compile=True)
        def step(x):
            with tf.GradientTape() as tape:
                y = layer(x, training=True)
                loss = tf.reduce_mean(tf.square(tf.cast(y, "float32")))
            return [tf.reduce_sum(g) for g in tape.gradient(loss, layer.trainable_variables)]

        return lambda: [g.numpy() for g in step(x)]  # .numpy() waits for the device
    import torch

    weights = [v.value for v in layer.trainable_variables]

    def step():
        y = layer(x, training=True)
        grads = torch.autograd.grad(y.float().square().mean(), weights)
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return grads

    return step


def measure_backend(args):
    """Rows of the table for the backend this process runs (KERAS_BACKEND)."""
    import keras
    import numpy as np

    backend = keras.backend.backend()
    on_gpu = _on_gpu(backend)
    dtype = args.dtype if args.dtype != "auto" else ("bfloat16" if on_gpu else "float32")
    rows = []
    for tokens, width, heads in shapes(args):
        x = keras.ops.convert_to_tensor(
            np.random.default_rng(0).normal(size=(args.batch, tokens, width)).astype("float32")
        )
        block = keraskit_block(width, heads, dtype)
        peers = {
            "keraskit": block,
            "keras MHA": KerasMHABlock(width, heads, dtype),
            "KerasHub": keras_hub_block(width, heads, dtype),
        }
        for layer in peers.values():
            layer(x[:1])  # build
        differences = {}
        reference = keras.ops.convert_to_numpy(keras.ops.cast(block(x), "float32"))
        for name in PEERS[1:]:
            copy_weights(block, peers[name], name)
            theirs = keras.ops.convert_to_numpy(keras.ops.cast(peers[name](x), "float32"))
            differences[name] = float(np.max(np.abs(theirs - reference)))
        steps = {name: gradient_step(layer, x) for name, layer in peers.items()}
        for _ in range(args.warmup):
            for step in steps.values():
                step()
        times = {name: [] for name in PEERS}
        for repeat in range(args.repeats):
            order = PEERS[repeat % 3 :] + PEERS[: repeat % 3]  # who goes first rotates
            for name in order:
                start = time.perf_counter()
                steps[name]()
                times[name].append(time.perf_counter() - start)
        medians = {name: _common.median(values) * 1e3 for name, values in times.items()}
        best_peer = min(medians[name] for name in PEERS[1:])
        rows.append(
            {
                "backend": backend,
                "tokens": tokens,
                "width": width,
                "heads": heads,
                "dtype": dtype,
                "keraskit ms": medians["keraskit"],
                "keras MHA ms": medians["keras MHA"],
                "KerasHub ms": medians["KerasHub"],
                "vs keras MHA": medians["keraskit"] / medians["keras MHA"],
                "vs best peer": medians["keraskit"] / best_peer,
                "max output diff": max(differences.values()),
            }
        )
        print(f"  {backend} {tokens}x{width}: done", file=sys.stderr, flush=True)
    return rows


def shapes(args):
    if not args.shapes:
        return SHAPES
    chosen = []
    for text in args.shapes:
        tokens, width = (int(part) for part in text.lower().split("x"))
        chosen.append((tokens, width, max(1, width // 64)))
    return chosen


def _on_gpu(backend):
    if backend == "jax":
        import jax

        return jax.devices()[0].platform == "gpu"
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    import torch

    return torch.cuda.is_available()


def run_child(backend, args):
    """Measure one backend in its own process (Keras picks its backend once per process)."""
    command = [
        sys.executable,
        os.path.abspath(__file__),
        "--backend",
        backend,
        "--json",
        "--batch",
        str(args.batch),
        "--repeats",
        str(args.repeats),
        "--warmup",
        str(args.warmup),
        "--dtype",
        args.dtype,
    ]
    if args.shapes:
        command += ["--shapes", *args.shapes]
    environment = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(command, env=environment, stdout=subprocess.PIPE, text=True)
    if result.returncode != 0:
        raise SystemExit(f"The {backend} run failed (exit {result.returncode}); its errors are above.")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main(argv=None):
    args = parse_args(argv)
    if args.json:  # a child: measure, hand the rows back as JSON
        print(json.dumps(measure_backend(args)))
        return
    backends = [args.backend] if args.backend else list(BACKENDS)
    rows = [row for backend in backends for row in run_child(backend, args)]
    columns = [
        "backend",
        "tokens",
        "width",
        "heads",
        "dtype",
        "keraskit ms",
        "keras MHA ms",
        "KerasHub ms",
        "vs keras MHA",
        "vs best peer",
        "max output diff",
    ]
    print(_common.caption(f"Transformer block, forward + backward, batch {args.batch}"))
    print(
        f"Medians of {args.repeats} interleaved steps after {args.warmup} warm-up steps; "
        f"{_common.versions('keras', 'keras_hub', 'jax', 'tensorflow', 'torch')}.\n"
    )
    print(_common.markdown_table(rows, columns))
    worst = max(rows, key=lambda row: row["vs best peer"])
    print(
        f"\nkeraskit / best peer, worst case: {worst['vs best peer']:.2f}x "
        f"({worst['backend']}, {worst['tokens']} tokens, width {worst['width']})"
    )


if __name__ == "__main__":
    main()
