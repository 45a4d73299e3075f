"""Every Python block of the README runs, on every backend.

The pretrained examples name `google/vit-base-patch16-224`; offline, a tiny randomly initialised
checkpoint of the same kind stands in for it, served from a Hugging Face cache (tests/hub.py), so
the README's code runs unchanged through the repo-id path. The multi-device block runs on 8 CPU
devices, shrunk.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import pytest
import torch
import transformers
from hub import offline_hub

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
MULTI_DEVICE_BLOCKS = re.findall(r"```python multi-device\n(.*?)```", README.read_text(), flags=re.DOTALL)


@pytest.fixture
def pretrained_stand_in(tmp_path, monkeypatch):
    """google/vit-base-patch16-224's layout (224x224 images, 16x16 patches, 1000 classes), tiny."""
    directory = tmp_path / "vit-stand-in"
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64, num_labels=1000
    )
    transformers.ViTForImageClassification(config).save_pretrained(directory)
    transformers.ViTImageProcessor().save_pretrained(directory)
    offline_hub(monkeypatch, tmp_path / "hub", {"google/vit-base-patch16-224": directory})


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


def test_readme_python_blocks_run(tmp_path, monkeypatch, capsys, pretrained_stand_in):
    monkeypatch.chdir(tmp_path)  # the examples save files
    for index, block in enumerate(BLOCKS):
        try:
            exec(compile(block, f"README.md python block {index + 1}", "exec"), {})
        except Exception as error:
            raise AssertionError(f"README python block {index + 1} failed: {error!r}\n{block}") from error
    printed = capsys.readouterr().out
    assert "(8, 10)" in printed and "(4, 2)" in printed and "(1, 2, 5, 5)" in printed


# The shrinking is spelled out, and each replacement must apply: an edit of the README block
# that this test no longer fits fails here instead of running something else.
SHRINK = {
    "keraskit.models.vit_large(num_classes=1000)": (
        "keraskit.models.vit_large(num_classes=1000, image_size=32, patch_size=8, num_layers=2)"
    ),
    "model.fit(train_dataset, epochs=90)": "history = model.fit(train_dataset, epochs=1, verbose=0)",
}
SETUP = """
import numpy as np
rng = np.random.default_rng(0)
batches = [(rng.normal(size=(8, 32, 32, 3)).astype("float32"), rng.integers(0, 1000, 8)) for _ in range(3)]
train_dataset = (batch for batch in batches)  # a generator of (images, labels) batches, as fit takes
"""


@pytest.mark.slow
@pytest.mark.skipif(
    keras.backend.backend() != "jax", reason="runs JAX in a subprocess: once, in the jax pass"
)
def test_readme_multi_device_block_runs_on_8_cpu_devices():
    assert len(MULTI_DEVICE_BLOCKS) == 1
    block = MULTI_DEVICE_BLOCKS[0]
    for old, new in SHRINK.items():
        assert old in block, f"the README's multi-device block no longer has {old!r}"
        block = block.replace(old, new)
    code = SETUP + block + "\nimport math; assert math.isfinite(history.history['loss'][-1]); print('ok')"
    env = {**os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
