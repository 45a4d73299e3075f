"""Every layer saves to .keras and loads back identical, under this and every other backend."""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
from model_zoo import build_zoo, predict

import keraskit  # noqa: F401  (registers the layers for load_model)

BACKENDS = ("jax", "tensorflow", "torch")
ZOO_NAMES = list(build_zoo())


@pytest.mark.parametrize("name", ZOO_NAMES)
def test_keras_file_round_trip_gives_identical_outputs(tmp_path, name):
    model, inputs = build_zoo()[name]
    expected = predict(model, inputs)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_array_equal(predict(loaded, inputs), expected)
    # The config round trip rebuilds the same architecture.
    assert [type(layer).__name__ for layer in loaded.layers] == [
        type(layer).__name__ for layer in model.layers
    ]


def test_every_layer_config_is_complete():
    """from_config(get_config()) gives a layer with the same config, for every layer in the zoo."""
    for model, _ in build_zoo().values():
        for layer in model.layers:
            if type(layer).__module__.startswith("keraskit"):
                clone = type(layer).from_config(layer.get_config())
                assert clone.get_config() == layer.get_config(), type(layer).__name__


LOAD_SCRIPT = """
import json, sys
from pathlib import Path
import keras, numpy as np
import keraskit  # registers the layers
folder = Path(sys.argv[1])
results = {}
for entry in json.loads((folder / "index.json").read_text()):
    name = entry["name"]
    inputs = [np.load(folder / f) for f in entry["inputs"]]
    model = keras.models.load_model(folder / entry["model"])
    out = keras.ops.convert_to_numpy(
        model(inputs if len(inputs) > 1 else inputs[0], training=False))
    expected = np.load(folder / entry["outputs"])
    results[name] = float(np.max(np.abs(out.astype("float64") - expected)))
print("RESULTS" + json.dumps({"backend": keras.backend.backend(), "errors": results}))
"""


@pytest.mark.slow  # starts two more processes
def test_models_saved_here_load_under_every_other_backend(tmp_path):
    this = keras.backend.backend()
    index = []
    for i, (name, (model, inputs)) in enumerate(build_zoo().items()):
        model.save(tmp_path / f"{i}.keras")
        files = []
        for j, array in enumerate(inputs):
            np.save(tmp_path / f"{i}_in{j}.npy", array)
            files.append(f"{i}_in{j}.npy")
        np.save(tmp_path / f"{i}_out.npy", predict(model, inputs))
        index.append(dict(name=name, model=f"{i}.keras", inputs=files, outputs=f"{i}_out.npy"))
    (tmp_path / "index.json").write_text(json.dumps(index))
    (tmp_path / "load.py").write_text(LOAD_SCRIPT)
    tests_dir = str(Path(__file__).parent)
    for other in (b for b in BACKENDS if b != this):
        env = dict(os.environ, KERAS_BACKEND=other, PYTHONPATH=tests_dir)
        run = subprocess.run(
            [sys.executable, str(tmp_path / "load.py"), str(tmp_path)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        lines = [line for line in run.stdout.splitlines() if line.startswith("RESULTS")]
        assert run.returncode == 0 and lines, (
            f"loading under {other} failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
        )
        report = json.loads(lines[0][len("RESULTS") :])
        assert report["backend"] == other
        assert set(report["errors"]) == {entry["name"] for entry in index}
        # Identical up to float32 rounding differences between backends' kernels.
        worst = {name: err for name, err in report["errors"].items() if err > 1e-5}
        assert not worst, f"saved on {this}, loaded on {other}: max abs differences {worst}"
