"""The benchmarks compare like with like: a ratio between two different functions means nothing.

bench/ is not part of the test suite (its figures come from `python bench/...`), but the
peer it times against must compute exactly what keraskit computes, on every backend.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
from conftest import variables_created_while_tracing

BENCH = pathlib.Path(__file__).resolve().parent.parent / "bench"


def load(name):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_keras_mha_peer_computes_the_keraskit_block_once_given_its_weights():
    attention = load("attention")
    x = np.random.default_rng(0).normal(size=(2, 9, 24)).astype("float32")
    block = attention.keraskit_block(24, 3, "float32")
    peer = attention.KerasMHABlock(24, 3, "float32")
    ours = keras.ops.convert_to_numpy(block(x))
    before = keras.ops.convert_to_numpy(peer(x))
    assert np.max(np.abs(before - ours)) > 1e-2  # independent initial weights differ

    attention.copy_weights(block, peer, "keras MHA")

    np.testing.assert_allclose(keras.ops.convert_to_numpy(peer(x)), ours, atol=1e-5)


def test_the_keras_hub_peer_computes_the_keraskit_block_once_given_its_weights():
    pytest.importorskip("keras_hub", reason="KerasHub is the `bench` extra's peer")
    attention = load("attention")
    x = np.random.default_rng(0).normal(size=(2, 9, 24)).astype("float32")
    block = attention.keraskit_block(24, 3, "float32")
    peer = attention.keras_hub_block(24, 3, "float32")
    ours = keras.ops.convert_to_numpy(block(x))
    before = keras.ops.convert_to_numpy(peer(x))
    assert np.max(np.abs(before - ours)) > 1e-2  # independent initial weights differ

    attention.copy_weights(block, peer, "KerasHub")

    np.testing.assert_allclose(keras.ops.convert_to_numpy(peer(x)), ours, atol=1e-5)


def test_copying_weights_fails_loudly_when_the_layouts_differ():
    attention = load("attention")
    block = attention.keraskit_block(24, 3, "float32")
    peer = attention.KerasMHABlock(24, 4, "float32")  # 4 heads of 6: kernels (24, 4, 6), not (24, 3, 8)
    block(np.zeros((1, 9, 24), "float32"))
    with pytest.raises(ValueError, match="shape"):
        attention.copy_weights(block, peer, "keras MHA")


def test_the_throughput_table_computes_mfu_from_the_median_step():
    throughput = load("vit_throughput")
    result = {"times": [0.5, 0.1, 0.2], "peak": 1e12, "device": "test GPU", "dtype": "bf16"}
    row = throughput.table_row("keras-jax", result, {"batch": 10}, flops_per_image=5e9)
    assert row["images/s"] == 10 / 0.2  # the median step, not the mean
    assert row["MFU"] == f"{100 * 50 * 5e9 / 1e12:.1f}%"


def test_the_timm_peer_is_built_from_the_same_preset_as_keraskits_vit_base():
    throughput = load("vit_throughput")
    arguments = throughput.timm_arguments({"model": "vit_base", "image_size": 224, "patch_size": 16})
    # ViT-B/16 (Dosovitskiy et al. 2021, table 1): width 768, 12 layers, 12 heads, MLP 3072.
    assert arguments == dict(
        img_size=224, patch_size=16, num_classes=1000, embed_dim=768, depth=12, num_heads=12, mlp_ratio=4.0
    )


def test_the_cpu_peers_are_the_same_vit_parameter_for_parameter():
    """cpu_training.py and cpu_step_profile.py compare equal models: same parameter count."""
    if keras.backend.backend() != "torch":
        pytest.skip("cpu_step_profile.py builds both models on the torch backend")
    ours, plain = load("cpu_step_profile").build()
    assert ours.count_params() == plain.num_parameters() == 139_018


def test_the_conv_stem_peer_is_lesson_09s_model_plus_a_class_token():
    """`cpu_training.py --model conv-stem` times the ViT lesson 09 trains against a PyTorch
    model with the same layers: the same convolutions, blocks and head, plus the class token
    and its position embedding that `transformers`' ViT always has (2 x width parameters)."""
    pytest.importorskip("transformers")
    torch = pytest.importorskip("torch")
    from keraskit.models import vit

    training = load("cpu_training")
    sizes = training.MODELS["conv-stem"]
    ours = vit(**sizes)
    plain = training.pytorch_peer("conv-stem")
    plain_count = sum(weight.numel() for weight in plain.parameters())
    assert plain_count == ours.count_params() + 2 * sizes["hidden_dim"]
    images = torch.zeros(3, sizes["channels"], sizes["image_size"], sizes["image_size"])
    assert tuple(plain(pixel_values=images).shape) == (3, sizes["num_classes"])
    assert ours.output_shape == (None, sizes["num_classes"])


@pytest.mark.parametrize("run", ["keras-jax-ynn-off", "keras-jax-ynn-dots"])
def test_the_ynn_runs_change_what_xla_compiles(run):
    """`cpu_training.py --runs keras-jax-ynn-*` time JAX with XLA's YNNPACK fusions off or
    limited to single dots. The flag is experimental: if a jaxlib renamed or dropped it, XLA
    would refuse to start (unknown flag) or ignore it, and the runs would time nothing new.
    A matrix product and a sum of squares compile to two YNN fusions by default (the product,
    and the reduction), one when only dots may go to YNNPACK, none when fusions are off."""
    if keras.backend.backend() != "jax":
        pytest.skip("a question about JAX's compiler: asked once, in the jax pass")
    training = load("cpu_training")
    program = (
        "import jax, jax.numpy as jnp\n"
        "f = jax.jit(lambda a, b: jnp.sum(a @ b, axis=0) + jnp.sum(a * a, axis=0))\n"
        "print(f.lower(jnp.ones((256, 64)), jnp.ones((64, 64))).compile().as_text())\n"
    )

    def ynn_fusions(xla_flags):
        environment = {**os.environ, "XLA_FLAGS": xla_flags, "JAX_PLATFORMS": "cpu"}
        result = subprocess.run(
            [sys.executable, "-c", program], env=environment, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout.count('"kind":"__ynn_fusion"')

    assert ynn_fusions("") == 2
    flagged = ynn_fusions(f"--xla_cpu_experimental_ynn_fusion_type={training.YNN_FUSIONS[run]}")
    assert flagged == {"keras-jax-ynn-off": 0, "keras-jax-ynn-dots": 1}[run]


def test_what_keras_creates_while_tensorflow_traces_the_first_step():
    """Why `cpu_training.py --runs keras-tensorflow-built`, lessons 10 and 12 and `train_vit`
    create AdamW's variables before `fit` and pass metric objects: without a distribution
    strategy, Keras on TensorFlow leaves AdamW's two slots per weight, and the two variables of
    a metric named by a string, to the trace of the first step, which makes `tf.function`
    trace that step again. Counted with TensorFlow's own hook, every variable created inside a
    traced function; if Keras began to create them before `fit` itself, the first count fails
    and the workaround can go."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("a question about TensorFlow's tracing: asked once, in the tensorflow pass")
    from keraskit.models import vit

    def created_while_tracing(build_optimizer, metrics):
        keras.utils.set_random_seed(0)
        model = vit(image_size=8, patch_size=4, channels=1, hidden_dim=8, num_layers=1, num_heads=2,
                    intermediate_dim=16, num_classes=3)  # fmt: skip
        model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="sparse_categorical_crossentropy",
                      metrics=metrics)  # fmt: skip
        if build_optimizer:
            model.optimizer.build(model.trainable_variables)
        images = np.random.default_rng(0).random((4, 8, 8, 1), dtype="float32")
        with variables_created_while_tracing() as names:
            model.fit(images, np.array([0, 1, 2, 0]), batch_size=4, epochs=1, verbose=0)
        return names, len(model.trainable_variables)

    default, weights = created_while_tracing(build_optimizer=False, metrics=[])
    assert len(default) == 2 * weights  # a momentum and a velocity per weight
    assert created_while_tracing(build_optimizer=True, metrics=[])[0] == []
    named, _ = created_while_tracing(build_optimizer=True, metrics=["accuracy"])
    assert sorted(named) == ["count", "total"]
    metric_object = keras.metrics.SparseCategoricalAccuracy("accuracy")
    assert created_while_tracing(build_optimizer=True, metrics=[metric_object])[0] == []


def test_adamw_reads_the_rate_once_per_decayed_weight_and_adam_once():
    """Why `cpu_training.py --runs keras-tensorflow-adam*` exist: Keras's AdamW reads its learning
    rate once for every weight it decays and once for the update (on torch, once for all the
    decays together), Adam once. On TensorFlow and JAX each read is a copy of the schedule in the
    traced step. One eager step of a model with 4 weights, the schedule counting its calls; if Keras
    began to read the rate once, the AdamW count fails and the runs measure nothing."""
    calls = []

    class CountingSchedule(keras.optimizers.schedules.LearningRateSchedule):
        def __call__(self, step):
            calls.append(step)
            return keras.ops.convert_to_tensor(1e-3)

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
    variables = model.trainable_variables
    reads = {}
    for optimizer in (keras.optimizers.AdamW(CountingSchedule()), keras.optimizers.Adam(CountingSchedule())):
        optimizer.build(variables)
        calls.clear()
        optimizer.apply([keras.ops.ones(v.shape) for v in variables], variables)
        reads[type(optimizer).__name__] = len(calls)
    per_step = 2 if keras.backend.backend() == "torch" else len(variables) + 1
    assert reads == {"AdamW": per_step, "Adam": 1}


def test_the_jax_step_profile_finds_xlas_own_work_in_the_trace():
    """`jax_step_profile.py` reads the Perfetto trace that `jax.profiler.trace` writes: a format
    JAX does not promise to keep. A tiny run must find XLA's fusions in it, taking time, beside
    the wall clock."""
    if keras.backend.backend() != "jax":
        pytest.skip("a JAX profile: run once, in the jax pass")
    result = subprocess.run(
        [
            sys.executable,
            str(BENCH / "jax_step_profile.py"),
            "--batches",
            "8",
            "16",
            "--steps",
            "2",
            "--rounds",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split(" | ") for line in result.stdout.splitlines() if line.startswith("| ")]
    kinds = {row[0].removeprefix("| "): [float(cell) for cell in row[1:3]] for row in rows[2:]}
    assert kinds["wall clock (ms), untraced before"][0] > 0 and kinds["wall clock (ms), traced"][0] > 0
    fusions = [times for kind, times in kinds.items() if "fusion" in kind]
    assert fusions and all(time >= 0 for times in fusions for time in times)
    assert sum(times[1] for times in fusions) > 0
