"""keraskit.training: schedule, FLOPs, throughput, distillation, the recipe, resume, two devices."""

import csv
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from conftest import to_numpy, variables_created_while_tracing

from keraskit.course.data import synthetic_shapes
from keraskit.layers import PatchEncoder
from keraskit.models import attention_rollout, vit, vit_base
from keraskit.training import (
    HardDistillation,
    ThroughputMonitor,
    WarmupCosine,
    accelerator_capability,
    adamw_optimizer,
    auto_precision,
    decayed_weights,
    image_augmentation,
    peak_flops,
    precision_scope,
    resolve_precision,
    train_vit,
    vit_flops,
    warmup_cosine,
)

TINY = dict(patch_size=4, hidden_dim=32, num_layers=2, num_heads=2, intermediate_dim=64, pooling="gap")


def run_python(script, env=None, timeout=600):
    """Runs a script in a fresh interpreter (its own backend, devices, process to kill)."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, **(env or {})),
    )
    return result


# --- the schedule -------------------------------------------------------------------------


@pytest.mark.parametrize("final", [0.0, 1e-5])
def test_warmup_cosine_follows_the_formula(final):
    peak, total, warmup = 3e-3, 200, 30
    schedule = warmup_cosine(peak, total, warmup, final_learning_rate=final)
    # The boundaries of each phase and points inside them (each eager call costs ~50 ms).
    steps = np.array([0, 1, 15, warmup - 1, warmup, warmup + 1, 60, 115, 170, total - 1, total])
    progress = np.clip((steps - warmup) / (total - warmup), 0, 1)
    expected = np.where(
        steps < warmup, peak * steps / warmup, final + (peak - final) * (1 + np.cos(np.pi * progress)) / 2
    )
    got = np.array([float(to_numpy(schedule(step))) for step in steps])
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("warmup, final", [(30, 0.0), (30, 1e-5), (0, 0.0)])
def test_warmup_cosine_gives_kerass_cosine_decay_to_the_bit(warmup, final):
    """The same rates as Keras's own CosineDecay with the same arguments, bit for bit, so that a
    lesson trained with either would print the same numbers."""
    peak, total = 3e-3, 200
    ours = warmup_cosine(peak, total, warmup, final_learning_rate=final)
    kerass = keras.optimizers.schedules.CosineDecay(
        0.0, total - warmup, alpha=final / peak, warmup_target=peak, warmup_steps=warmup
    )
    steps = [0, 1, 15, 29, 30, 31, 60, 115, 170, total - 1, total, total + 50]
    np.testing.assert_array_equal(
        [to_numpy(ours(step)) for step in steps], [to_numpy(kerass(step)) for step in steps]
    )
    # Without a branch it also takes many steps at once (a vectorised cos may round the last bit
    # differently).
    np.testing.assert_allclose(to_numpy(ours(np.array(steps))), [to_numpy(ours(s)) for s in steps], rtol=2e-6)


def test_warmup_cosine_round_trips_through_its_config():
    schedule = warmup_cosine(2e-3, 100, 10, final_learning_rate=1e-4)
    config = keras.optimizers.schedules.serialize(schedule)
    assert config["registered_name"] == "keraskit>WarmupCosine"
    again = keras.optimizers.schedules.deserialize(config)
    assert isinstance(again, WarmupCosine) and again.get_config() == schedule.get_config()
    with pytest.raises(ValueError, match="Expected a float warmup_target. Received: warmup_target=None"):
        WarmupCosine(1e-3, 100)


def test_adamw_traces_no_branch_with_warmup_cosine():
    """Keras's AdamW reads the learning rate once for every weight it decays and once for the
    update; on TensorFlow, Keras's CosineDecay makes each read a `tf.cond` in the traced step, two
    small graphs to build and optimise. WarmupCosine makes none. If Keras starts reading the rate
    once, the first assertion fails and warmup_cosine can go back to plain CosineDecay."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("only TensorFlow traces the step into a graph with tf.cond")
    import tensorflow as tf

    def branches_in_traced_step(schedule):
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(2)])
        model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=0.05), loss="mse")
        model.optimizer.build(model.trainable_variables)
        data = (tf.zeros((8, 3)), tf.zeros((8, 2)))
        graph = tf.function(model.train_step).get_concrete_function(data).graph
        return sum(op.type in ("If", "StatelessIf") for op in graph.get_operations())

    kerass = keras.optimizers.schedules.CosineDecay(0.0, 90, warmup_target=1e-3, warmup_steps=10)
    assert branches_in_traced_step(kerass) == 4 + 1  # one per weight (2 kernels, 2 biases), one per step
    assert branches_in_traced_step(warmup_cosine(1e-3, 100, 10)) == 0


@pytest.mark.parametrize(
    "args, message",
    [
        ((1e-3, 10, 10), "warmup_steps < total_steps"),
        ((0.0, 10, 2), "peak_learning_rate > 0"),
        ((1e-3, 10, 2, 1e-2), "final_learning_rate <= peak_learning_rate"),
    ],
)
def test_warmup_cosine_rejects_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        warmup_cosine(*args)


# --- weight decay --------------------------------------------------------------------------


def test_adamw_decays_every_kernel_and_nothing_else():
    """One step with zero gradients: Adam moves nothing, so only weight decay acts."""
    model = vit(image_size=8, channels=1, num_classes=3, **dict(TINY, pooling="cls"))
    optimizer = adamw_optimizer(model, 0.1, weight_decay=0.5)
    variables = model.trainable_variables
    before = [to_numpy(v).copy() for v in variables]
    optimizer.apply([keras.ops.zeros(v.shape) for v in variables], variables)
    shrunk = {v.path for v, old in zip(variables, before, strict=True) if not np.allclose(to_numpy(v), old)}
    for variable, old in zip(variables, before, strict=True):
        if variable.path in shrunk:  # AdamW: w <- w - learning_rate * weight_decay * w
            np.testing.assert_allclose(to_numpy(variable), old * (1 - 0.1 * 0.5), rtol=1e-6)
    # The patch projection, q, k, v, output and both MLP kernels of 2 blocks, and the head.
    kernels = {v.path for v in variables if v.path.endswith("/kernel")}
    assert shrunk == kernels and len(kernels) == 1 + 2 * 6 + 1, sorted(shrunk)
    assert {v.path for v in decayed_weights(model)} == kernels
    untouched = {v.path.rsplit("/", 1)[-1] for v in variables} - {"kernel"}
    assert untouched == {"bias", "gamma", "beta", "class_token", "position_embedding"}, untouched


# --- FLOPs, peak, throughput --------------------------------------------------------------


def test_vit_base_flops_match_timms_model_card():
    # timm's model card of a ViT-B/16 at 224x224 (deit3_base_patch16_224: 86.6 M parameters) lists
    # 17.6 GMACs (multiply-adds).
    model = vit_base()
    assert vit_flops(model) / 2 / 1e9 == pytest.approx(17.6, abs=0.05)
    assert vit_flops(model, training=True) == 3 * vit_flops(model)


def test_vit_flops_count_the_shifted_copies_in_the_patch_projection():
    # Shifted patches feed the projection 5 views of each patch (the image and 4 shifted
    # copies) instead of 1: 4 x (7 x 7 pixels x 1 channel) more inputs per token, each
    # multiplied by the 64 projection weights of every output: 2 FLOPs per multiply-add.
    settings = dict(image_size=28, patch_size=7, num_classes=10, channels=1, hidden_dim=64, num_layers=1,
                    num_heads=4, intermediate_dim=128)  # fmt: skip
    plain, shifted = vit(**settings), vit(**settings, shifted_patches=True)
    assert vit_flops(shifted) - vit_flops(plain) == 2 * 16 * (4 * 7 * 7 * 1) * 64


def test_vit_flops_count_the_conv_stem_by_the_convolution_formula():
    # A hybrid is its convolutions plus a plain ViT of their 4x4 feature map. A convolution
    # costs (output height x width x filters) x (kernel height x width x input channels) MACs:
    # 28x28x1 -> 14x14x16 -> 7x7x32 -> 4x4x64, all 3x3 kernels.
    settings = dict(num_classes=10, hidden_dim=64, num_layers=2, num_heads=4, intermediate_dim=128,
                    patch_size=1)  # fmt: skip
    hybrid = vit(image_size=28, channels=1, conv_stem=(16, 32, 64), **settings)
    on_the_map = vit(image_size=4, channels=64, **settings)
    convolutions = 14 * 14 * 16 * (9 * 1) + 7 * 7 * 32 * (9 * 16) + 4 * 4 * 64 * (9 * 32)
    assert vit_flops(hybrid) - vit_flops(on_the_map) == 2 * convolutions


@pytest.mark.slow  # a subprocess of its own: make test runs it, make check does not
def test_vit_flops_agree_with_xla_cost_analysis():
    """XLA counts the FLOPs of the compiled forward pass independently of our formula."""
    result = run_python(
        """
        import json, jax, keras, numpy as np
        from keraskit.models import vit
        from keraskit.training import vit_flops
        counts = []
        variants = (  # shifted patches: a 5x wider patch projection; a conv stem: convolutions first
            dict(patch_size=4), dict(patch_size=4, shifted_patches=True),
            dict(patch_size=2, conv_stem=(32, 64)),
        )
        for variant in variants:
            model = vit(image_size=32, num_classes=10, hidden_dim=192, num_layers=2,
                        num_heads=3, intermediate_dim=768, **variant)
            x = np.zeros((1, 32, 32, 3), "float32")
            weights = [v.value for v in model.trainable_variables]
            others = [v.value for v in model.non_trainable_variables]
            forward = jax.jit(lambda w, o, x: model.stateless_call(w, o, x)[0])
            cost = forward.lower(weights, others, x).compile().cost_analysis()
            cost = cost[0] if isinstance(cost, list) else cost
            counts.append({"xla": cost["flops"], "ours": vit_flops(model)})
        print(json.dumps(counts))
    """,
        env={"KERAS_BACKEND": "jax"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # XLA also counts softmax, LayerNorm, GELU and additions (a few percent here); we count
    # only the matrix products, so ours is a little lower, never higher.
    for counts in json.loads(result.stdout.strip().splitlines()[-1]):
        assert 0.90 * counts["xla"] <= counts["ours"] <= counts["xla"], counts


def test_peak_flops_by_device_name():
    assert peak_flops("NVIDIA H100 80GB HBM3") == 989e12
    assert peak_flops("NVIDIA H100 PCIe") == 756e12
    assert peak_flops("NVIDIA H200") == 989e12
    assert peak_flops("NVIDIA A100-SXM4-40GB") == 312e12
    assert peak_flops("Some CPU") is None


def test_throughput_monitor_logs_images_per_second_and_mfu():
    x = np.random.default_rng(0).random((256, 8)).astype("float32")
    y = (x.sum(1) > 4).astype("int32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    monitor = ThroughputMonitor(
        images_per_epoch=256, flops_per_image=1e6, peak_flops=1e12, print_every_epoch=False
    )
    history = model.fit(x, y, batch_size=64, epochs=2, verbose=0, callbacks=[monitor])
    speeds = history.history["images_per_second"]
    assert len(speeds) == 2 and all(speed > 0 for speed in speeds)
    np.testing.assert_allclose(history.history["mfu"], np.array(speeds) * 1e6 / 1e12)


# --- distillation token and hard distillation ---------------------------------------------


def test_patch_encoder_distillation_token_comes_second_with_its_own_position():
    encoder = PatchEncoder(8, class_token=True, distillation_token=True)
    tokens = to_numpy(encoder(np.zeros((2, 16, 5), "float32")))
    assert tokens.shape == (2, 18, 8) and encoder.num_prefix_tokens == 2
    positions = to_numpy(encoder.position_embedding)
    assert positions.shape == (18, 8)
    # Zero patches project to the bias (zeros): what is left is token + position.
    np.testing.assert_allclose(
        tokens[0, 0], to_numpy(encoder.class_embedding) + positions[0], rtol=1e-6, atol=1e-7
    )
    np.testing.assert_allclose(
        tokens[0, 1], to_numpy(encoder.distillation_embedding) + positions[1], rtol=1e-6, atol=1e-7
    )
    assert not np.allclose(tokens[0, 0], tokens[0, 1])
    with pytest.raises(ValueError, match="needs `class_token=True`"):
        PatchEncoder(8, distillation_token=True)


def test_vit_with_distillation_has_two_heads_and_rollout_skips_both_tokens(rng):
    model = vit(image_size=16, channels=1, num_classes=3, distillation=True, **dict(TINY, pooling="cls"))
    images = rng.random((2, 16, 16, 1)).astype("float32")
    class_logits, distillation_logits = model(images)
    assert tuple(class_logits.shape) == tuple(distillation_logits.shape) == (2, 3)
    rollout = attention_rollout(model, images)
    assert rollout.shape == (2, 4, 4)
    np.testing.assert_allclose(rollout.sum(axis=(1, 2)), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="needs pooling='cls'"):
        vit(image_size=16, channels=1, num_classes=3, distillation=True, **TINY)


def test_hard_distillation_loss_is_deit_formula_and_teacher_stays_frozen(rng):
    student = vit(
        image_size=8, channels=1, num_classes=4, distillation=True, **dict(TINY, patch_size=4, pooling="cls")
    )
    teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    images = rng.random((16, 8, 8, 1)).astype("float32")
    labels = rng.integers(0, 4, 16)
    class_logits, distillation_logits = (to_numpy(t) for t in student(images, training=False))
    teacher_labels = to_numpy(teacher(images)).argmax(-1)

    def cross_entropy(logits, targets):
        logits = logits - logits.max(-1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return -log_probs[np.arange(len(targets)), targets].mean()

    expected = 0.5 * cross_entropy(class_logits, labels) + 0.5 * cross_entropy(
        distillation_logits, teacher_labels
    )
    teacher_before = [to_numpy(w).copy() for w in teacher.weights]
    model = HardDistillation(student, teacher)
    model.compile(optimizer=keras.optimizers.SGD(0.5), metrics=["accuracy"])
    history = model.fit(images, labels, batch_size=16, epochs=2, shuffle=False, verbose=0)
    # The first step's loss is computed with the initial weights.
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-4)
    for before, after in zip(teacher_before, teacher.weights, strict=True):
        np.testing.assert_array_equal(before, to_numpy(after))

    # Inference: DeiT's late fusion, the average of the two heads' softmax probabilities.
    def softmax(logits):
        exponentials = np.exp(logits - logits.max(-1, keepdims=True))
        return exponentials / exponentials.sum(-1, keepdims=True)

    heads = [to_numpy(t).astype("float64") for t in student(images, training=False)]
    average = (softmax(heads[0]) + softmax(heads[1])) / 2
    np.testing.assert_allclose(np.exp(to_numpy(model(images))), average, rtol=1e-5, atol=1e-6)
    # Metrics judge the class head in training, DeiT's averaged prediction in evaluation.
    class_predictions = to_numpy(student(images, training=False)[0]).argmax(-1)
    _, accuracy = model.evaluate(images, labels, verbose=0)
    np.testing.assert_allclose(accuracy, np.mean(average.argmax(-1) == labels), atol=1e-6)
    assert class_predictions.shape == labels.shape
    with pytest.raises(ValueError, match="two outputs"):
        HardDistillation(teacher, teacher)


@pytest.mark.parametrize("wrong", [dict(loss="sparse_categorical_crossentropy"), dict(loss_weights=0.5)])
def test_hard_distillation_cannot_be_compiled_with_another_loss(wrong):
    student = vit(image_size=8, channels=1, num_classes=4, distillation=True, **dict(TINY, pooling="cls"))
    teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    with pytest.raises(ValueError, match=r"computes its own loss.*with an optimizer and metrics only"):
        HardDistillation(student, teacher).compile(optimizer="adam", **wrong)


def test_hard_distillation_survives_a_keras_file_round_trip(tmp_path, rng):
    student = vit(image_size=8, channels=1, num_classes=4, distillation=True, **dict(TINY, pooling="cls"))
    teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4)])
    model = HardDistillation(student, teacher, augmentation=image_augmentation())
    images = rng.random((3, 8, 8, 1)).astype("float32")
    expected = to_numpy(model(images))
    model.save(tmp_path / "deit.keras")
    loaded = keras.models.load_model(tmp_path / "deit.keras")
    np.testing.assert_allclose(to_numpy(loaded(images)), expected, rtol=1e-5, atol=1e-6)


# --- the recipe ---------------------------------------------------------------------------


def shapes_data(train=1024, test=256):
    (x_train, y_train) = synthetic_shapes(train, image_size=16, channels=1, seed=0)
    (x_test, y_test) = synthetic_shapes(test, image_size=16, channels=1, seed=1)
    return (x_train, y_train), (x_test, y_test)


def test_train_vit_learns_and_reports_its_speed(capsys):
    train, validation = shapes_data(2048)
    run = train_vit(
        train,
        validation,
        model_config=TINY,
        epochs=6,
        batch_size=64,
        peak_learning_rate=3e-3,
        verbose=0,
        distribute=False,
    )
    history = run.history
    assert history["loss"][-1] < history["loss"][0]
    assert run.validation_accuracy > 0.4  # 4 classes: chance is 0.25
    assert run.validation_accuracy == history["val_accuracy"][-1]
    assert run.images_per_second > 0 and run.device.endswith("x1")
    assert len(history["images_per_second"]) == 6
    assert "images/s" in capsys.readouterr().out
    assert run.model.output_shape == (None, 4)  # the plain ViT, augmentation left out


def test_train_vit_creates_no_variable_while_its_step_is_traced():
    """On TensorFlow a variable created inside the traced training step (AdamW's slots, a metric
    named by a string) makes `tf.function` trace the whole step a second time; `train_vit`
    creates them all before `fit`. Counted with TensorFlow's own hook."""
    if keras.backend.backend() != "tensorflow":
        pytest.skip("only TensorFlow traces the step with tf.function")
    train, validation = shapes_data(128, 64)
    with variables_created_while_tracing() as created:
        train_vit(train, validation, model_config=TINY, epochs=1, batch_size=64, verbose=0)
    assert created == []


def test_train_vit_without_validation_data_reports_none(capsys):
    train, _ = shapes_data(128, 64)
    run = train_vit(train, model_config=TINY, epochs=1, batch_size=64, verbose=0)
    assert run.validation_accuracy is None and "val_accuracy" not in run.history


def test_train_vit_rejects_bad_arguments():
    train, validation = shapes_data(64, 64)
    with pytest.raises(
        ValueError, match=r"`precision` must be one of \['auto', 'bfloat16', 'float16', 'float32'\]"
    ):
        train_vit(train, validation, model_config=TINY, precision="float64", epochs=1)
    if keras.backend.backend() == "torch":  # Keras's torch trainer runs one step per call
        with pytest.raises(ValueError, match="`steps_per_execution` must be 1 on the torch backend"):
            train_vit(train, validation, model_config=TINY, steps_per_execution=2, epochs=1)
    with pytest.raises(ValueError, match=r"`train_data` images must have shape \(N, height, width, chan"):
        train_vit((np.zeros((4, 16, 16)), np.zeros(4, int)), model_config=TINY, epochs=1)
    with pytest.raises(ValueError, match=r"`validation_data` labels must be class indices of shape \(4,\)"):
        train_vit(train, (np.zeros((4, 16, 16, 1)), np.zeros((4, 2), int)), model_config=TINY, epochs=1)
    with pytest.raises(ValueError, match=r"`epochs` must be an integer >= 1. Received: epochs=0"):
        train_vit(train, model_config=TINY, epochs=0)


RESUMABLE_RUN = """
    import os, signal, sys, keras
    from keraskit.course.data import synthetic_shapes
    from keraskit.training import train_vit
    checkpoints, log, kill_in_epoch = sys.argv[1], sys.argv[2], int(sys.argv[3])

    class Recorder(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.epoch = epoch
            print("epoch", epoch, "starts at step", int(self.model.optimizer.iterations), flush=True)
        def on_train_batch_end(self, batch, logs=None):
            if self.epoch == kill_in_epoch and batch == 3:
                os.kill(os.getpid(), signal.SIGKILL)  # a crash: no clean-up runs

    data = (synthetic_shapes(512, image_size=16, channels=1, seed=0),
            synthetic_shapes(128, image_size=16, channels=1, seed=1))
    train_vit(*data, model_config=dict(patch_size=4, hidden_dim=16, num_layers=1, num_heads=2,
                                       intermediate_dim=32),
              epochs=5, batch_size=64, checkpoint_dir=checkpoints, verbose=0, distribute=False,
              callbacks=[keras.callbacks.CSVLogger(log, append=True), Recorder()])
"""


@pytest.mark.slow  # a subprocess of its own: make test runs it, make check does not
def test_a_killed_run_resumes_from_its_last_completed_epoch(tmp_path):
    checkpoints, log = tmp_path / "checkpoints", tmp_path / "log.csv"
    args = [str(checkpoints), str(log)]
    script = textwrap.dedent(RESUMABLE_RUN)
    killed = subprocess.run(
        [sys.executable, "-c", script, *args, "2"], capture_output=True, text=True, timeout=600
    )
    assert killed.returncode == -9, killed.stderr[-3000:]
    resumed = subprocess.run(
        [sys.executable, "-c", script, *args, "-1"], capture_output=True, text=True, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps_per_epoch = 512 // 64
    # Epochs 0 and 1 completed before the kill; the restart begins at epoch 2, with the
    # optimizer (and so the learning-rate schedule) exactly where epoch 1 left it.
    assert "epoch 0 starts at step 0" in killed.stdout
    first_line = [line for line in resumed.stdout.splitlines() if line.startswith("epoch")][0]
    assert first_line == f"epoch 2 starts at step {2 * steps_per_epoch}"
    with open(log) as file:
        epochs = [int(row["epoch"]) for row in csv.DictReader(file)]
    assert epochs == [0, 1, 2, 3, 4]  # every epoch logged once: none lost, none repeated


TWO_DEVICES = """
    import json, keras
    from keraskit.course.data import synthetic_shapes
    from keraskit.training import train_vit
    data = (synthetic_shapes(2048, image_size=16, channels=1, seed=0),
            synthetic_shapes(128, image_size=16, channels=1, seed=1))
    config = dict(patch_size=4, hidden_dim=32, num_layers=2, num_heads=2, intermediate_dim=64, pooling="gap")
    (x_train, y_train), validation = data
    one_step = train_vit((x_train[:64], y_train[:64]), validation, model_config=config, epochs=1,
                         batch_size=64, augment=False, verbose=0)
    trained = train_vit(*data, model_config=config, epochs=10, batch_size=64,
                        peak_learning_rate=3e-3, verbose=0)
    print(json.dumps({"devices": len(keras.distribution.list_devices()),
                      "first_step_loss": one_step.history["loss"][0], "device": trained.device,
                      "losses": trained.history["loss"]}))
"""


@pytest.mark.slow  # a subprocess of its own: make test runs it, make check does not
@pytest.mark.once("its subprocesses run JAX, whichever backend is under test")
def test_recipe_trains_data_parallel_on_two_devices_like_on_one():
    results = {}
    for count in (1, 2):
        result = run_python(
            TWO_DEVICES,
            env={"KERAS_BACKEND": "jax", "XLA_FLAGS": f"--xla_force_host_platform_device_count={count}"},
        )
        assert result.returncode == 0, result.stderr[-3000:]
        results[count] = json.loads(result.stdout.strip().splitlines()[-1])
    assert results[2]["devices"] == 2 and results[2]["device"].endswith("x2")
    assert results[1]["device"].endswith("x1")
    np.testing.assert_allclose(results[2]["first_step_loss"], results[1]["first_step_loss"], rtol=1e-5)
    losses = results[2]["losses"]
    assert losses[-1] < 0.8 * losses[0], losses  # 4 shapes: a model at chance stays at ln 4


@pytest.mark.parametrize("augment", [True, False])
def test_train_vit_returns_a_model_ready_to_evaluate_with_integer_labels(augment):
    train, test = shapes_data(128, 64)
    run = train_vit(train, model_config=TINY, epochs=1, batch_size=64, verbose=0, augment=augment)
    _, accuracy = run.model.evaluate(*test, verbose=0)
    predicted = run.model.predict(test[0], verbose=0).argmax(-1)
    assert accuracy == pytest.approx(np.mean(predicted == test[1]), abs=1e-6)


# (device kind, NVIDIA compute capability) -> what "auto" must pick. bfloat16 tensor cores
# start with Ampere (8.0); older GPUs have float16 ones; a CPU computes 16-bit formats slowly.
AUTO_PRECISION_CASES = [
    (("cpu", None), "float32"),
    (("gpu", (7, 0)), "float16"),  # V100
    (("gpu", (7, 5)), "float16"),  # T4
    (("gpu", (8, 0)), "bfloat16"),  # A100
    (("gpu", (8, 9)), "bfloat16"),  # L4
    (("gpu", (9, 0)), "bfloat16"),  # H100, H200
    (("gpu", None), "float32"),  # a driver that does not say
    (("tpu", None), "bfloat16"),
]


@pytest.mark.parametrize("device,expected", AUTO_PRECISION_CASES)
def test_auto_precision_follows_the_tensor_cores(device, expected):
    assert auto_precision(*device) == expected


def test_auto_precision_on_this_machine_is_float32_on_its_cpu():
    kind, _ = accelerator_capability()
    if kind == "cpu":
        assert resolve_precision("auto") == "float32"
    else:  # on a lent GPU the same rule, from the device's own capability
        assert resolve_precision("auto") == auto_precision(*accelerator_capability())


def test_float16_builds_mixed_float16_models_that_compile_with_loss_scaling():
    with precision_scope("float16") as policy:
        model = vit(**TINY, image_size=16, num_classes=4, channels=1)
    assert policy == "mixed_float16"
    assert model.get_layer("block_0").dtype_policy.name == "mixed_float16"
    assert keras.config.dtype_policy().name == "float32"  # restored
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
