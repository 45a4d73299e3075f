"""Pretrained ViTs: Hugging Face and KerasHub checkpoints loaded into keraskit, checked against
the frameworks that wrote them.

The checkpoints are tiny and randomly initialised, written here by `transformers`'
`save_pretrained` (and `torch.save` for the older `.bin` format): no download. The
reference is `transformers`' own forward pass in PyTorch, on the same images.
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import torch
import transformers
from conftest import to_numpy
from hub import offline_hub
from safetensors.numpy import load_file, save_file

from keraskit.layers import bicubic_resize_matrix
from keraskit.models import (
    labels_from_pretrained,
    preprocessing_from_pretrained,
    resize_vit,
    vit_from_pretrained,
)

TINY = dict(
    image_size=32,
    patch_size=8,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=64,
    num_labels=5,
    layer_norm_eps=1e-5,  # not keraskit's 1e-6, nor Hugging Face's default 1e-12
)
TOLERANCE = 1e-4


def write(model_class, config_class, directory, **overrides):
    """A randomly initialised model written by save_pretrained; the model, for reference."""
    torch.manual_seed(0)
    model = model_class(config_class(**{**TINY, **overrides})).eval()
    with torch.no_grad():  # non-zero biases and tokens, so a bias left out shows
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    model.save_pretrained(directory)
    return model


@pytest.fixture(scope="module")
def vit_checkpoint(tmp_path_factory):
    directory = tmp_path_factory.mktemp("vit")
    return directory, write(transformers.ViTForImageClassification, transformers.ViTConfig, directory)


@pytest.fixture(scope="module")
def deit_checkpoint(tmp_path_factory):
    directory = tmp_path_factory.mktemp("deit")
    model = write(transformers.DeiTForImageClassificationWithTeacher, transformers.DeiTConfig, directory)
    return directory, model


def images(size=32, batch=3, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, size, size, 3)).astype("float32")


def reference(model, nhwc, **kwargs):
    """The transformers model's outputs on the same images (it takes channels first)."""
    with torch.no_grad():
        return model(pixel_values=torch.from_numpy(nhwc.transpose(0, 3, 1, 2)), **kwargs)


def test_vit_logits_equal_transformers(vit_checkpoint):
    directory, hf_model = vit_checkpoint
    model = vit_from_pretrained(directory)
    x = images()
    expected = reference(hf_model, x).logits.numpy()
    np.testing.assert_allclose(to_numpy(model(x)), expected, atol=TOLERANCE, rtol=0)
    # The config's epsilon and dropout, not keraskit's defaults.
    assert model.get_layer("final_norm").epsilon == TINY["layer_norm_eps"]
    assert model.get_layer("block_1").layer_norm_epsilon == TINY["layer_norm_eps"]


def test_a_pytorch_bin_checkpoint_loads_the_same(vit_checkpoint, tmp_path):
    directory, hf_model = vit_checkpoint
    # The format of checkpoints written before safetensors: a pickled dict of PyTorch tensors,
    # under the names save_pretrained writes.
    tensors = load_file(directory / "model.safetensors")
    torch.save(
        {name: torch.from_numpy(array) for name, array in tensors.items()}, tmp_path / "pytorch_model.bin"
    )
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    x = images()
    expected = reference(hf_model, x).logits.numpy()
    np.testing.assert_allclose(to_numpy(vit_from_pretrained(tmp_path)(x)), expected, atol=TOLERANCE, rtol=0)


def test_sharded_safetensors_load(vit_checkpoint, tmp_path):
    directory, hf_model = vit_checkpoint
    tensors = load_file(directory / "model.safetensors")
    names = sorted(tensors)
    halves = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for file, part in halves.items():
        save_file({name: tensors[name] for name in part}, tmp_path / file)
    index = {"weight_map": {name: file for file, part in halves.items() for name in part}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    x = images()
    expected = reference(hf_model, x).logits.numpy()
    np.testing.assert_allclose(to_numpy(vit_from_pretrained(tmp_path)(x)), expected, atol=TOLERANCE, rtol=0)


def test_deit_with_teacher_gives_both_heads(deit_checkpoint):
    directory, hf_model = deit_checkpoint
    model = vit_from_pretrained(directory)
    x = images()
    expected = reference(hf_model, x)
    class_logits, distillation_logits = (to_numpy(output) for output in model(x))
    np.testing.assert_allclose(class_logits, expected.cls_logits.numpy(), atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(
        distillation_logits, expected.distillation_logits.numpy(), atol=TOLERANCE, rtol=0
    )
    # transformers predicts with the average of the two heads' logits (the paper, and
    # keraskit's HardDistillation, average their softmax probabilities instead).
    average = (class_logits + distillation_logits) / 2
    np.testing.assert_allclose(average, expected.logits.numpy(), atol=TOLERANCE, rtol=0)


def test_deit_without_teacher_reads_the_class_token_only(tmp_path):
    hf_model = write(transformers.DeiTForImageClassification, transformers.DeiTConfig, tmp_path)
    model = vit_from_pretrained(tmp_path)
    assert model.get_layer("patch_encoder").distillation_token  # the token is there ...
    assert len(model.outputs) == 1  # ... read by no head
    x = images()
    np.testing.assert_allclose(
        to_numpy(model(x)), reference(hf_model, x).logits.numpy(), atol=TOLERANCE, rtol=0
    )


@pytest.mark.parametrize("model_class", [transformers.ViTModel, transformers.DeiTModel])
def test_features_equal_the_class_token_of_the_base_model(model_class, tmp_path):
    config_class = transformers.ViTConfig if model_class is transformers.ViTModel else transformers.DeiTConfig
    hf_model = write(model_class, config_class, tmp_path)
    features = vit_from_pretrained(tmp_path, include_top=False)
    x = images()
    expected = reference(hf_model, x).last_hidden_state[:, 0].numpy()
    assert features.output_shape == (None, TINY["hidden_size"])
    np.testing.assert_allclose(to_numpy(features(x)), expected, atol=TOLERANCE, rtol=0)
    with pytest.raises(ValueError, match="has no classification head, so `num_classes` is needed"):
        vit_from_pretrained(tmp_path)
    assert vit_from_pretrained(tmp_path, num_classes=7).output_shape == (None, 7)


@pytest.mark.parametrize("image_size", [48, 24, (40, 56)])
def test_a_new_image_size_equals_interpolate_pos_encoding(vit_checkpoint, image_size):
    directory, hf_model = vit_checkpoint
    model = vit_from_pretrained(directory, image_size=image_size)
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    x = np.random.default_rng(1).normal(size=(2, height, width, 3)).astype("float32")
    expected = reference(hf_model, x, interpolate_pos_encoding=True).logits.numpy()
    np.testing.assert_allclose(to_numpy(model(x)), expected, atol=TOLERANCE, rtol=0)


def test_deit_at_a_new_image_size(deit_checkpoint):
    directory, hf_model = deit_checkpoint
    model = vit_from_pretrained(directory, image_size=48)
    x = images(48)
    expected = reference(hf_model, x, interpolate_pos_encoding=True)
    np.testing.assert_allclose(to_numpy(model(x)[0]), expected.cls_logits.numpy(), atol=TOLERANCE, rtol=0)


def test_resize_vit_keeps_the_weights_and_interpolates_positions(vit_checkpoint):
    directory, hf_model = vit_checkpoint
    model = vit_from_pretrained(directory)
    before = [to_numpy(weight) for weight in model.weights]
    larger = resize_vit(model, 48)
    x = images(48)
    expected = reference(hf_model, x, interpolate_pos_encoding=True).logits.numpy()
    np.testing.assert_allclose(to_numpy(larger(x)), expected, atol=TOLERANCE, rtol=0)
    for old, new in zip(before, model.weights, strict=True):  # the original is untouched
        np.testing.assert_array_equal(old, to_numpy(new))
    with pytest.raises(ValueError, match=r"image_size=50 is not a whole number of 8x8 patches"):
        resize_vit(model, 50)


@pytest.mark.parametrize("in_size,out_size", [(4, 6), (4, 9), (6, 3), (5, 5), (7, 2)])
def test_bicubic_resize_equals_pytorch(in_size, out_size):
    grid = np.random.default_rng(2).normal(size=(1, 3, in_size, in_size)).astype("float32")
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(grid), size=(out_size, out_size), mode="bicubic", align_corners=False
    ).numpy()
    matrix = bicubic_resize_matrix(in_size, out_size)
    resized = np.einsum("ir,jc,bdrc->bdij", matrix, matrix, grid)
    np.testing.assert_allclose(resized, expected, atol=1e-5, rtol=0)


def test_fine_tuning_a_new_head_trains_and_round_trips(vit_checkpoint, tmp_path):
    directory, hf_model = vit_checkpoint
    model = vit_from_pretrained(directory, num_classes=3)
    assert model.output_shape == (None, 3)
    # The encoder is the checkpoint's: the features before the head are unchanged.
    pooled = keras.Model(model.input, model.get_layer("pooling").output)
    x = images(batch=16)
    expected = reference(hf_model, x, output_hidden_states=True).hidden_states[-1]
    expected = torch.nn.functional.layer_norm(
        expected, (TINY["hidden_size"],), hf_model.vit.layernorm.weight, hf_model.vit.layernorm.bias, 1e-5
    )[:, 0]
    np.testing.assert_allclose(to_numpy(pooled(x)), expected.detach().numpy(), atol=TOLERANCE, rtol=0)

    labels = np.arange(16) % 3
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    losses = model.fit(x, labels, epochs=15, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < 0.8 * losses[0], losses
    path = tmp_path / "tuned.keras"
    model.save(path)
    restored = keras.models.load_model(path)
    np.testing.assert_allclose(to_numpy(restored(x)), to_numpy(model(x)), atol=1e-6)


def test_a_hub_repo_id_loads_from_the_cache_offline(vit_checkpoint, tmp_path, monkeypatch):
    """A repo id goes through huggingface_hub: here its cache, laid out as a download leaves it."""
    directory, hf_model = vit_checkpoint
    offline_hub(monkeypatch, tmp_path / "hub", {"tiny/vit": directory})
    x = images()
    expected = reference(hf_model, x).logits.numpy()
    np.testing.assert_allclose(to_numpy(vit_from_pretrained("tiny/vit")(x)), expected, atol=TOLERANCE, rtol=0)


def test_an_unreachable_repo_id_says_what_to_run(tmp_path, monkeypatch):
    offline_hub(monkeypatch, tmp_path, {})  # an empty cache
    with pytest.raises(OSError) as error:
        vit_from_pretrained("google/vit-base-patch16-224")
    message = str(error.value)
    assert "downloading it from the Hugging Face Hub failed" in message
    assert "hf download google/vit-base-patch16-224 --include '*.json' '*.safetensors*'" in message
    assert "vit_from_pretrained('vit-base-patch16-224')" in message


def test_bad_sources_get_errors_that_name_the_problem(vit_checkpoint, tmp_path):
    directory, _ = vit_checkpoint
    missing = tmp_path / "no" / "such" / "folder"
    with pytest.raises(FileNotFoundError, match=r"No checkpoint directory .*folder"):
        vit_from_pretrained(missing)
    with pytest.raises(FileNotFoundError, match=r"has no config.json.*it has: nothing"):
        vit_from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match=r"has no weights: expected one of model.safetensors"):
        vit_from_pretrained(tmp_path)
    with pytest.raises(NotADirectoryError, match="config.json is a file"):
        vit_from_pretrained(tmp_path / "config.json")
    with pytest.raises(TypeError, match="Received an object of type int"):
        vit_from_pretrained(3)


def test_another_architecture_is_named(tmp_path):
    transformers.BertConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=4, intermediate_size=64
    ).save_pretrained(tmp_path)
    save_file(
        {"bert.embeddings.word_embeddings.weight": np.zeros((8, 32), "float32")},
        tmp_path / "model.safetensors",
    )
    with pytest.raises(ValueError, match=r"model_type='bert' model .*not a Vision Transformer"):
        vit_from_pretrained(tmp_path)


def test_a_vit_with_other_parts_is_refused(tmp_path):
    write(transformers.ViTForMaskedImageModeling, transformers.ViTConfig, tmp_path)
    with pytest.raises(ValueError, match=r"ViTForMaskedImageModeling is a vit model keraskit cannot load"):
        vit_from_pretrained(tmp_path)


def test_a_weight_of_the_wrong_shape_is_named(vit_checkpoint, tmp_path):
    directory, _ = vit_checkpoint
    tensors = load_file(directory / "model.safetensors")
    name = "vit.encoder.layer.1.intermediate.dense.weight"
    tensors[name] = np.zeros((65, 32), "float32")
    save_file(tensors, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text((directory / "config.json").read_text())
    with pytest.raises(ValueError, match=rf"weight '{name}' has shape \(65, 32\); .* needs \(64, 32\)"):
        vit_from_pretrained(tmp_path)
    del tensors[name]
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(ValueError, match=rf"has no weight '{name}'"):
        vit_from_pretrained(tmp_path)


def test_preprocessing_equals_the_image_processor(tmp_path):
    processor = transformers.ViTImageProcessor(size={"height": 32, "width": 32})
    processor.save_pretrained(tmp_path)
    preprocess = preprocessing_from_pretrained(tmp_path)
    raw = np.random.default_rng(3).integers(0, 256, size=(2, 32, 32, 3), dtype="uint8")
    expected = processor(list(raw), return_tensors="np")["pixel_values"].transpose(0, 2, 3, 1)
    np.testing.assert_allclose(to_numpy(preprocess(raw)), expected, atol=1e-5, rtol=0)
    # Upsampled, Keras's bilinear resize and PIL's differ by PIL's rounding to 8 bits: one level.
    small = raw[:, :16, :16]
    expected = processor(list(small), return_tensors="np")["pixel_values"].transpose(0, 2, 3, 1)
    resized = to_numpy(preprocess(small))
    assert resized.shape == (2, 32, 32, 3)
    assert np.abs(resized - expected).max() <= 1 / 255 / 0.5 + 1e-5


def test_deit_preprocessing_crops_the_centre(tmp_path):
    processor = transformers.DeiTImageProcessor(
        size={"height": 40, "width": 40}, crop_size={"height": 32, "width": 32}
    )
    processor.save_pretrained(tmp_path)
    preprocess = preprocessing_from_pretrained(tmp_path)
    raw = np.random.default_rng(4).integers(0, 256, size=(2, 40, 40, 3), dtype="uint8")
    expected = processor(list(raw), return_tensors="np")["pixel_values"].transpose(0, 2, 3, 1)
    np.testing.assert_allclose(to_numpy(preprocess(raw)), expected, atol=1e-5, rtol=0)


def test_keras_hub_backbone_and_classifier(tmp_path):
    import keras_hub  # slow to import (it loads TensorFlow): only here

    keras.utils.set_random_seed(0)
    backbone = keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3),
        patch_size=8,
        num_layers=2,
        num_heads=4,
        hidden_dim=32,
        mlp_dim=64,
        layer_norm_epsilon=1e-5,
    )
    classifier = keras_hub.models.ViTImageClassifier(backbone=backbone, num_classes=5)
    for variable in classifier.weights:  # non-zero biases and tokens, so a bias left out shows
        variable.assign(variable + 0.05 * np.random.default_rng(5).normal(size=variable.shape))
    x = images()
    features = vit_from_pretrained(backbone, include_top=False)
    np.testing.assert_allclose(to_numpy(features(x)), to_numpy(backbone(x))[:, 0], atol=TOLERANCE, rtol=0)
    model = vit_from_pretrained(classifier)
    np.testing.assert_allclose(to_numpy(model(x)), to_numpy(classifier(x)), atol=TOLERANCE, rtol=0)


def test_the_library_imports_none_of_the_optional_packages():
    # Keras itself imports huggingface_hub when it is installed: count only what keraskit adds.
    code = (
        "import json, sys, keras; before = set(sys.modules); import keraskit.models; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout
    added = set(json.loads(out))
    assert added, "the probe saw no import at all"
    assert "keraskit" in added
    assert not added & {"transformers", "safetensors", "huggingface_hub", "torch", "keras_hub"}, added


def test_bfloat16_and_float16_safetensors_load(vit_checkpoint, tmp_path):
    """NumPy has no bfloat16: keraskit widens those tensors itself (exactly: bf16 is f32's top half)."""
    from safetensors.torch import save_file as save_torch_file

    directory, hf_model = vit_checkpoint
    x = images()
    for dtype in (torch.bfloat16, torch.float16):
        folder = tmp_path / str(dtype).split(".")[-1]
        folder.mkdir()
        # The file save_pretrained wrote, its tensors rounded to 16 bits.
        tensors = {
            name: torch.from_numpy(array).to(dtype)
            for name, array in load_file(directory / "model.safetensors").items()
        }
        save_torch_file(tensors, folder / "model.safetensors")
        (folder / "config.json").write_text((directory / "config.json").read_text())
        reference_model = type(hf_model).from_pretrained(folder, dtype=torch.float32).eval()
        expected = reference(reference_model, x).logits.numpy()
        np.testing.assert_allclose(to_numpy(vit_from_pretrained(folder)(x)), expected, atol=TOLERANCE, rtol=0)


def test_a_config_without_architectures_is_read_from_the_weight_names(vit_checkpoint, tmp_path):
    directory, hf_model = vit_checkpoint
    config = json.loads((directory / "config.json").read_text())
    del config["architectures"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes((directory / "model.safetensors").read_bytes())
    x = images()
    expected = reference(hf_model, x).logits.numpy()
    np.testing.assert_allclose(to_numpy(vit_from_pretrained(tmp_path)(x)), expected, atol=TOLERANCE, rtol=0)


def test_a_mistyped_local_path_is_not_sent_to_the_hub(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"No checkpoint directory './checkpoints' \(looked for /"):
        vit_from_pretrained("./checkpoints")


def test_num_classes_without_a_top_is_an_error(vit_checkpoint):
    directory, _ = vit_checkpoint
    with pytest.raises(ValueError, match=r"`num_classes`=3 with include_top=False"):
        vit_from_pretrained(directory, num_classes=3, include_top=False)


def test_preprocessing_at_another_image_size_keeps_the_crop_proportion(tmp_path):
    processor = transformers.DeiTImageProcessor(
        size={"height": 40, "width": 40}, crop_size={"height": 32, "width": 32}
    )
    processor.save_pretrained(tmp_path)
    preprocess = preprocessing_from_pretrained(tmp_path, image_size=48)
    # 40/32 of 48 is 60: resize to 60x60, then crop the centre 48x48, as DeiT would at 48.
    resize, crop = preprocess.layers[0], preprocess.layers[1]
    assert (resize.height, resize.width) == (60, 60) and (crop.height, crop.width) == (48, 48)
    raw = np.random.default_rng(6).integers(0, 256, size=(2, 60, 60, 3), dtype="uint8")
    at_48 = transformers.DeiTImageProcessor(
        size={"height": 60, "width": 60}, crop_size={"height": 48, "width": 48}
    )
    expected = at_48(list(raw), return_tensors="np")["pixel_values"].transpose(0, 2, 3, 1)
    np.testing.assert_allclose(to_numpy(preprocess(raw)), expected, atol=1e-5, rtol=0)


def test_labels_name_the_heads_outputs_in_order(tmp_path):
    names = {0: "tench", 1: "goldfish", 2: "great white shark"}
    model = write(
        transformers.ViTForImageClassification,
        transformers.ViTConfig,
        tmp_path / "named",
        num_labels=3,
        id2label=names,
        label2id={name: index for index, name in names.items()},
    )
    assert labels_from_pretrained(tmp_path / "named") == [model.config.id2label[i] for i in range(3)]
    write(transformers.ViTModel, transformers.ViTConfig, tmp_path / "headless")
    config = json.loads((tmp_path / "headless" / "config.json").read_text())
    config.pop("id2label", None)
    (tmp_path / "headless" / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="no `id2label`"):
        labels_from_pretrained(tmp_path / "headless")
