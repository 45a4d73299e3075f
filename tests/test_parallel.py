"""Model parallelism (keraskit.training.parallel): where each weight lies, and training split 2 x 4.

The layout map and the argument checks are plain Python and run on every backend. Training
on a mesh needs Keras's JAX backend and 8 devices: it runs in a subprocess that sets
KERAS_BACKEND=jax and forces 8 host CPU devices before JAX starts, whatever backend this
process runs.
"""

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import keras
import pytest

from keraskit.models import vit
from keraskit.training.parallel import check_model_parallel, model_parallel, vit_layout_map

ROOT = Path(__file__).resolve().parent.parent
CONFIG = dict(
    image_size=16, patch_size=4, num_classes=10, hidden_dim=32, num_layers=2, num_heads=4, intermediate_dim=64
)
# The Megatron split, written out independently of the module: path in a block -> axes.
SPLIT = {
    **{f"attention/{p}/kernel": (None, "model", None) for p in ("query", "key", "value")},
    **{f"attention/{p}/bias": ("model", None) for p in ("query", "key", "value")},
    "attention/output/kernel": ("model", None, None),
    "mlp_hidden/kernel": (None, "model"),
    "mlp_hidden/bias": ("model",),
    "mlp_output/kernel": ("model", None),
}


def expected_axes(path, model_axis="model"):
    """The axes the Megatron split gives the weight at `path`, or None (replicated)."""
    block, _, rest = path.partition("/")
    if not block.startswith("block_") or rest not in SPLIT:
        return None
    return tuple(model_axis if axis == "model" else axis for axis in SPLIT[rest])


def mesh(shape=(2, 4), axis_names=("batch", "model")):
    devices = [f"gpu:{i}" for i in range(math.prod(shape))]  # names only: a map needs no devices
    return keras.distribution.DeviceMesh(shape, axis_names, devices)


@pytest.mark.parametrize("model_axis", ["model", "tensor"])
@pytest.mark.parametrize("name", ["vit", "my_classifier"])
def test_layout_map_splits_the_blocks_and_replicates_the_rest(name, model_axis):
    model = vit(**CONFIG, distillation=True, name=name)  # a second token and head, replicated too
    layout_map = vit_layout_map(mesh(axis_names=("batch", model_axis)), model_axis=model_axis)
    split = 0
    for variable in model.weights:
        layout = layout_map[variable.path]  # raises if two keys match
        expected = expected_axes(variable.path, model_axis)
        assert (layout and tuple(layout.axes)) == expected, variable.path
        split += expected is not None
    assert split == 10 * CONFIG["num_layers"]  # q, k, v kernels and biases, 2 kernels, 1 bias
    replicated = {v.path for v in model.weights if layout_map[v.path] is None}
    for path in ("patch_encoder/projection/kernel", "patch_encoder/position_embedding", "head/kernel"):
        assert path in replicated
    assert "block_1/attention_norm/gamma" in replicated and "block_0/attention/output/bias" in replicated


def test_optimizer_variables_follow_their_weights():
    # Keras 3.8 looks an optimizer's variables up in the layout map by their own paths
    # (`adamw/block_0_attention_query_kernel_momentum`); later Keras copies the weight's layout.
    model = vit(**CONFIG)
    optimizer = keras.optimizers.AdamW()
    optimizer.build(model.trainable_variables)
    layout_map = vit_layout_map(mesh())
    by_name = {v.path.replace("/", "_"): v.path for v in model.weights}
    checked = 0
    for variable in optimizer.variables:
        layout = layout_map[variable.path]
        _, _, slot = variable.path.partition("/")
        weight = next((by_name[k] for k in by_name if slot.startswith(k + "_")), None)
        if weight is None:  # iterations, learning rate
            assert layout is None, variable.path
            continue
        assert (layout and tuple(layout.axes)) == expected_axes(weight), variable.path
        checked += layout is not None
    assert checked == 2 * 10 * CONFIG["num_layers"]  # momentum and velocity of each split weight


def test_layout_map_needs_the_model_axis_in_the_mesh():
    with pytest.raises(ValueError, match=r"`model_axis`='model' is not an axis .* \('data', 'tensor'\)"):
        vit_layout_map(mesh(axis_names=("data", "tensor")))


EIGHT = [f"gpu:{i}" for i in range(8)]


@pytest.mark.parametrize(
    "mesh_shape, kwargs, message",
    [
        ((2, 3), {}, r"`mesh_shape`=\(2, 3\) holds 2 x 3 = 6 devices, but 8 devices were given"),
        ((2, 2, 2), {}, r"has 3 axes but `axis_names`=\('batch', 'model'\) names 2"),
        ((8,), {}, r"has 1 axes but"),
        ((2, 4), {"model_axis": "tensor"}, r"`model_axis`='tensor' is not in `axis_names`"),
        ((2, 4), {"model_axis": "batch"}, r"is the first axis, which splits the batch"),
        ((2, 4), {"axis_names": ("model", "model")}, r"`axis_names` must be distinct strings"),
        ((2.0, 4), {}, r"tuple of positive ints.*Received: mesh_shape=\(2.0, 4\)"),
        (8, {}, r"tuple of positive ints.*Received: mesh_shape=8"),
    ],
)
def test_model_parallel_rejects_bad_meshes_on_any_backend(mesh_shape, kwargs, message):
    with pytest.raises(ValueError, match=message):
        model_parallel(mesh_shape, devices=EIGHT, **kwargs)


@pytest.mark.parametrize("mesh_shape", [(2, 4), (4, 2)])
def test_model_parallel_refuses_to_split_batch_and_model_before_keras_3_10(monkeypatch, mesh_shape):
    monkeypatch.setattr(keras, "__version__", "3.9.2")
    with pytest.raises(ValueError, match=r"computes wrongly.*keras>=3.10, or split the model only"):
        model_parallel(mesh_shape, devices=EIGHT)


def test_model_parallel_runs_on_jax_and_says_so_elsewhere():
    if keras.backend.backend() == "jax":
        distribution = model_parallel((1, 1), devices=["cpu:0"])
        assert isinstance(distribution, keras.distribution.ModelParallel)
        assert distribution.batch_dim_name == "batch"
        assert tuple(distribution.device_mesh.shape) == (1, 1)
    else:
        with pytest.raises(RuntimeError, match=r"runs on the JAX backend only.*KERAS_BACKEND=jax"):
            model_parallel((1, 1), devices=["cpu:0"])
        with pytest.raises(RuntimeError, match="runs on the JAX backend only"):
            model_parallel()


def test_check_model_parallel_needs_whole_heads_and_units_per_device():
    check_model_parallel(mesh((2, 4)), num_heads=4, intermediate_dim=64)
    with pytest.raises(ValueError, match=r"`num_heads`=6 does not split over the 4 devices of the mesh axis"):
        check_model_parallel(mesh((2, 4)), num_heads=6, intermediate_dim=64)
    with pytest.raises(ValueError, match=r"`intermediate_dim`=100 does not split over the 8 devices"):
        check_model_parallel(mesh((1, 8)), num_heads=8, intermediate_dim=100)
    with pytest.raises(ValueError, match=r"`model_axis`='tensor' is not an axis"):
        check_model_parallel(mesh(), num_heads=4, intermediate_dim=64, model_axis="tensor")


# Trains the same ViT twice from the same weights: on one device, then split over a 2 (batch)
# x 4 (model) mesh of 8 forced host devices. Prints the losses and each variable's shard shape.
# Keras before 3.10 feeds such a mesh the wrong images, and model_parallel refuses it: there
# the model is split over 4 of the devices, the batch not at all.
TRAIN_ON_A_MESH = textwrap.dedent(
    """
    import json
    import keras
    import numpy as np
    from keraskit.models import vit
    from keraskit.training.parallel import model_parallel

    CONFIG = {config!r}
    rng = np.random.default_rng(0)
    images = rng.random((8, 16, 16, 3), dtype="float32")
    labels = np.arange(8) % 10

    def train(model):
        model.compile(
            optimizer=keras.optimizers.AdamW(3e-3),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        # One step per epoch on the same batch. fit, not train_on_batch: Keras 3.8's
        # train_on_batch fails under a distribution unless given a sample_weight.
        history = model.fit(images, labels, batch_size=8, epochs={steps}, shuffle=False, verbose=0)
        return history.history["loss"]

    keras.utils.set_random_seed(0)
    reference = vit(**CONFIG)
    weights = reference.get_weights()
    reference_losses = train(reference)

    devices = keras.distribution.list_devices()
    if tuple(int(part) for part in keras.__version__.split(".")[:2]) < (3, 10):
        try:
            model_parallel((2, 4))
            refused = None
        except ValueError as error:
            refused = str(error)
        distribution = model_parallel((1, 4), devices=devices[:4])
    else:
        refused = "not refused"
        distribution = model_parallel((2, 4))
    with distribution.scope():
        keras.utils.set_random_seed(1)  # other initial weights, replaced by the reference's
        model = vit(**CONFIG)
        model.set_weights(weights)
        losses = train(model)

    def shards(variables):
        return {{
            v.path: [list(v.shape), list(v.value.sharding.shard_shape(tuple(v.shape))),
                     len(v.value.sharding.device_set)]
            for v in variables
        }}

    print(json.dumps({{
        "devices": len(devices),
        "mesh": list(distribution.device_mesh.shape),
        "refused": refused,
        "default_mesh": list(model_parallel().device_mesh.shape),
        "losses": [float(x) for x in losses],
        "reference_losses": [float(x) for x in reference_losses],
        "weights": shards(model.weights),
        "optimizer": shards(model.optimizer.variables),
    }}))
    """
)


@pytest.mark.slow
def test_a_vit_split_over_a_2_by_4_mesh_trains_like_on_one_device():
    steps = 25
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
    result = subprocess.run(
        [sys.executable, "-c", TRAIN_ON_A_MESH.format(config=CONFIG, steps=steps)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["devices"] == 8 and report["default_mesh"] == [1, 8]
    if report["mesh"] == [1, 4]:  # Keras before 3.10
        assert "computes wrongly" in report["refused"]
    else:
        assert report["mesh"] == [2, 4] and report["refused"] == "not refused"
    mesh_devices = report["mesh"][0] * report["mesh"][1]

    # Same weights, same batch: the split model computes the same loss, step after step.
    losses, reference = report["losses"], report["reference_losses"]
    assert len(losses) == steps
    assert losses[0] == pytest.approx(reference[0], abs=1e-5)
    assert losses == pytest.approx(reference, abs=1e-4)
    assert losses[-1] < 0.25 * losses[0], losses  # and it learns (2.6 -> 0.06 when written)

    # Each split weight is cut in 4 along its model axis, and spread over all the mesh's devices.
    for path, (shape, shard, devices) in report["weights"].items():
        axes = expected_axes(path) or (None,) * len(shape)
        assert shard == [size // 4 if axis else size for size, axis in zip(shape, axes, strict=True)], path
        assert devices == mesh_devices, path
    query = report["weights"]["block_0/attention/query/kernel"]
    assert query[:2] == [[32, 4, 8], [32, 1, 8]]  # one head of 4 per device
    # Adam's momentum and velocity are split like their weights, not whole on each device.
    split_slots = [p for p, (shape, shard, _) in report["optimizer"].items() if shard != shape]
    assert len(split_slots) == 2 * 10 * CONFIG["num_layers"], split_slots
    assert all("block_" in path for path in split_slots)
