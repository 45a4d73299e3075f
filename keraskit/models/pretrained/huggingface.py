"""Reading Hugging Face ViT and DeiT checkpoints: config.json and the weights, with NumPy.

A checkpoint directory, as `save_pretrained` writes it, holds `config.json` and
the weights: `model.safetensors` (read with safetensors' NumPy API, no PyTorch),
or the older `pytorch_model.bin` (a PyTorch pickle: reading it needs PyTorch),
either possibly split in shards listed by an `.index.json`.

The arrays are PyTorch's layouts. A `Linear` weight is `(out, in)`: transposed, it
is a Keras kernel `(in, out)`. The query, key and value projections are one
`(hidden_dim, hidden_dim)` matrix each, whose outputs are the heads side by side:
reshaped, they are the `(hidden_dim, num_heads, head_dim)` kernels of keraskit's
attention. The patch embedding is a convolution `(hidden_dim, channels, patch_height,
patch_width)`: reordered to `(patch_height, patch_width, channels)` and flattened, it
is the projection of the patches `Patches` cuts.
"""

import json
import re
from pathlib import Path

import numpy as np

from keraskit.extras import require
from keraskit.models.pretrained.checkpoint import Checkpoint
from keraskit.validation import to_pair

# What each supported architecture holds, by its name in config.json: the prefix of
# its encoder's weights and its heads (Hugging Face name -> keraskit layer).
ARCHITECTURES = {
    "ViTModel": ("", {}),
    "ViTForImageClassification": ("vit.", {"classifier": "head"}),
    "DeiTModel": ("", {}),
    "DeiTForImageClassification": ("deit.", {"classifier": "head"}),
    "DeiTForImageClassificationWithTeacher": (
        "deit.",
        {"cls_classifier": "head", "distillation_classifier": "distillation_head"},
    ),
}
DEFAULT_ARCHITECTURE = {"vit": "ViTModel", "deit": "DeiTModel"}
# Hugging Face's activation names that Keras computes the same way.
ACTIVATIONS = {"gelu": "gelu", "relu": "relu", "silu": "silu", "swish": "silu", "tanh": "tanh"}
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
# Weights a checkpoint may hold that keraskit's ViT has no use for.
IGNORED = re.compile(r"^(vit\.|deit\.)?pooler\.")
REPO_ID = re.compile(r"^[\w.-]+(/[\w.-]+)?$")


def read_checkpoint(source):
    """A `Checkpoint` from a local Hugging Face directory or a Hub repo id."""
    directory = local_directory(source)
    config = read_config(directory)
    tensors = read_weights(directory)
    return checkpoint_from_tensors(config, tensors, str(source))


def local_directory(source, files="checkpoint"):
    """The checkpoint directory `source` names: itself, or a Hub repo's downloaded snapshot.

    `files`: what a download fetches, `"checkpoint"` (the configs and the weights) or
    `"preprocessing"` (preprocessor_config.json only).
    """
    directory = Path(source).expanduser()
    if not directory.exists():
        return _download(str(source), files)
    if not directory.is_dir():
        raise NotADirectoryError(
            f"{source} is a file; vit_from_pretrained wants the directory that holds config.json and "
            "model.safetensors (as written by `save_pretrained`)."
        )
    return directory


def read_config(directory):
    path = directory / "config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory} has no config.json. A Hugging Face checkpoint directory holds config.json "
            f"and model.safetensors (or pytorch_model.bin); it has: {_listing(directory)}."
        )
    return json.loads(path.read_text())


def _listing(directory):
    names = sorted(path.name for path in directory.iterdir())
    return ", ".join(names) if names else "nothing"


def read_weights(directory):
    """Every tensor of a checkpoint directory as a NumPy array, by its Hugging Face name."""
    directory = Path(directory)
    for name in WEIGHT_FILES:
        if (directory / name).is_file():
            break
    else:
        raise FileNotFoundError(
            f"{directory} has no weights: expected one of {', '.join(WEIGHT_FILES)}; it has: "
            f"{_listing(directory)}."
        )
    if name.endswith(".index.json"):  # shards: one file per part of the weights
        shards = sorted(set(json.loads((directory / name).read_text())["weight_map"].values()))
        files = [directory / shard for shard in shards]
    else:
        files = [directory / name]
    tensors = {}
    for path in files:
        tensors.update(_read_safetensors(path) if path.suffix == ".safetensors" else _read_pickle(path))
    return tensors


def _read_safetensors(path):
    safetensors_numpy = require("safetensors.numpy", "pretrained", f"Reading {path.name}")
    try:
        return safetensors_numpy.load_file(str(path))
    except KeyError:  # NumPy has no bfloat16, so safetensors' NumPy reader refuses "BF16"
        return _read_bfloat16_safetensors(path)


def _read_bfloat16_safetensors(path):
    """A safetensors file holding bfloat16 tensors, as float32 arrays.

    The format is an 8-byte header length, a JSON header (name -> dtype, shape,
    byte offsets) and the raw little-endian data. A bfloat16 number is the top
    16 bits of a float32, so shifting it left by 16 bits gives the float32 exactly.
    """
    with open(path, "rb") as file:
        header_length = int.from_bytes(file.read(8), "little")
        header = json.loads(file.read(header_length))
        data = file.read()
    dtypes = {"F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4"}
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        if entry["dtype"] not in dtypes:
            raise ValueError(
                f"{path}: tensor {name!r} has dtype {entry['dtype']}, which keraskit cannot read."
            )
        start, end = entry["data_offsets"]
        array = np.frombuffer(data[start:end], dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
        if entry["dtype"] == "BF16":
            array = (array.astype("<u4") << 16).view("<f4")
        tensors[name] = array.astype("float32") if array.dtype.kind == "f" else array
    return tensors


def _read_pickle(path):
    try:
        import torch  # a .bin checkpoint is a pickle of PyTorch tensors
    except ImportError as error:
        raise ImportError(
            f"{path} is a PyTorch pickle: reading it needs PyTorch (pip install torch). Or convert it "
            "to model.safetensors once, where PyTorch is installed, and load that without PyTorch."
        ) from error
    state = torch.load(path, map_location="cpu", weights_only=True)
    return {name: tensor.float().numpy() for name, tensor in state.items()}


def _download(repo_id, files="checkpoint"):
    """A local snapshot of a Hub repository, or an error that says how to fetch it by hand."""
    looks_local = repo_id.startswith((".", "/", "~")) or not REPO_ID.match(repo_id)
    if looks_local:
        raise FileNotFoundError(
            f"No checkpoint directory {repo_id!r} (looked for {Path(repo_id).expanduser().resolve()}), "
            "and it is not a Hugging Face repo id either (those read 'owner/name', e.g. "
            "'google/vit-base-patch16-224')."
        )
    hub = require("huggingface_hub", "pretrained", f"Downloading {repo_id!r} from the Hugging Face Hub")
    try:
        if files == "preprocessing":
            return Path(hub.snapshot_download(repo_id, allow_patterns=["preprocessor_config.json"]))
        configs = ["config.json", "preprocessor_config.json"]
        # safetensors first; only a repository without them costs the PyTorch pickle's download.
        path = Path(hub.snapshot_download(repo_id, allow_patterns=configs + ["model.safetensors*"]))
        if not any((path / name).is_file() for name in WEIGHT_FILES):
            path = Path(hub.snapshot_download(repo_id, allow_patterns=configs + ["pytorch_model.bin*"]))
    except Exception as error:  # offline, unknown or gated repo: the error's type says which
        folder = repo_id.split("/")[-1]
        first_line = (str(error).strip().splitlines() or [""])[0]
        raise OSError(
            f"No local directory {repo_id!r}, and downloading it from the Hugging Face Hub failed "
            f"({type(error).__name__}: {first_line}). If the repo id is right and you may read it, "
            f"run on a machine that is online\n    hf download {repo_id} --include '*.json' "
            f"'*.safetensors*' --local-dir {folder}\n(`huggingface-cli download` with huggingface_hub "
            f"< 0.34; '*.bin*' for a repository without safetensors), then copy the folder {folder!r} "
            f"here and pass its path: vit_from_pretrained({folder!r})."
        ) from error
    return path


def checkpoint_from_tensors(config, tensors, source):
    """The `Checkpoint` of a ViT or DeiT given its config.json (a dict) and its tensors."""
    model_type = config.get("model_type")
    architectures = config.get("architectures") or [_architecture_from_names(model_type, tensors)]
    if model_type not in DEFAULT_ARCHITECTURE:
        raise ValueError(
            f"{source}: config.json describes a model_type={model_type!r} model ({architectures[0]}), "
            "not a Vision Transformer. vit_from_pretrained loads model_type 'vit' and 'deit': "
            f"{', '.join(ARCHITECTURES)}."
        )
    architecture = architectures[0]
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"{source}: {architecture} is a {model_type} model keraskit cannot load (it adds layers "
            f"a ViT classifier does not have). Supported: {', '.join(ARCHITECTURES)}."
        )
    prefix, heads = ARCHITECTURES[architecture]
    arguments = _vit_arguments(config, source)
    reader = _TensorReader(tensors, prefix, source)
    weights = _encoder_weights(reader, arguments, config.get("qkv_bias", True))
    head_weights = {}
    num_classes = None
    for hf_name, layer in heads.items():
        kernel = reader.take(f"{hf_name}.weight", None, prefix="")
        num_classes = kernel.shape[0]
        reader.check(f"{hf_name}.weight", kernel, (num_classes, arguments["hidden_dim"]), prefix="")
        head_weights[f"{layer}.kernel"] = (f"{hf_name}.weight", kernel.T)
        bias = reader.take(f"{hf_name}.bias", (num_classes,), prefix="")
        head_weights[f"{layer}.bias"] = (f"{hf_name}.bias", bias)
    reader.check_all_used()
    return Checkpoint(
        source=source,
        arguments=arguments,
        weights=weights,
        head_weights=head_weights,
        num_classes=num_classes,
        distillation_heads=len(heads) == 2,
    )


def _architecture_from_names(model_type, tensors):
    """The architecture a config.json without `architectures` holds, read from its weight names."""
    names = set(tensors)
    if {"cls_classifier.weight", "distillation_classifier.weight"} <= names:
        return "DeiTForImageClassificationWithTeacher"
    if "classifier.weight" in names:
        return {"vit": "ViTForImageClassification", "deit": "DeiTForImageClassification"}.get(model_type)
    return DEFAULT_ARCHITECTURE.get(model_type)


def _vit_arguments(config, source):
    activation = config.get("hidden_act", "gelu")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"{source}: hidden_act={activation!r} has no exact Keras equivalent in keraskit; "
            f"supported: {', '.join(ACTIVATIONS)}."
        )
    return dict(
        image_size=config.get("image_size", 224),
        patch_size=config.get("patch_size", 16),
        channels=config.get("num_channels", 3),
        hidden_dim=config["hidden_size"],
        num_layers=config["num_hidden_layers"],
        num_heads=config["num_attention_heads"],
        intermediate_dim=config["intermediate_size"],
        layer_norm_epsilon=config.get("layer_norm_eps", 1e-12),
        activation=ACTIVATIONS[activation],
        dropout=config.get("hidden_dropout_prob", 0.0),
        attention_dropout=config.get("attention_probs_dropout_prob", 0.0),
        distillation=config["model_type"] == "deit",
        name=config["model_type"],
    )


class _TensorReader:
    """Takes tensors by name, checks their shapes, and remembers which were used."""

    def __init__(self, tensors, prefix, source):
        self.tensors, self.prefix, self.source, self.used = tensors, prefix, source, set()

    def take(self, name, shape, prefix=None, default=None):
        key = (self.prefix if prefix is None else prefix) + name
        if key not in self.tensors:
            if default is not None:
                return default
            raise ValueError(
                f"{self.source}: the checkpoint has no weight {key!r}, which its architecture needs. "
                "Its weights do not match its config.json."
            )
        self.used.add(key)
        array = self.tensors[key]
        if shape is not None:
            self.check(name, array, shape, prefix)
        return array

    def check(self, name, array, shape, prefix=None):
        if tuple(array.shape) != tuple(shape):
            key = (self.prefix if prefix is None else prefix) + name
            raise ValueError(
                f"{self.source}: weight {key!r} has shape {tuple(array.shape)}; config.json's "
                f"architecture needs {tuple(shape)}."
            )

    def check_all_used(self):
        unused = sorted(key for key in self.tensors if key not in self.used and not IGNORED.match(key))
        if unused:
            raise ValueError(
                f"{self.source}: the checkpoint has {len(unused)} weight(s) a ViT of its config does not, "
                f"e.g. {unused[:3]}; it is another architecture than config.json says."
            )


def _encoder_weights(reader, arguments, qkv_bias):
    dim, heads = arguments["hidden_dim"], arguments["num_heads"]
    head_dim, hidden = dim // heads, arguments["intermediate_dim"]
    patch_height, patch_width = to_pair(arguments["patch_size"], "patch_size")
    channels = arguments["channels"]
    height, width = to_pair(arguments["image_size"], "image_size")
    rows, columns = height // patch_height, width // patch_width
    prefix_tokens = 2 if arguments["distillation"] else 1
    weights = {}

    def put(target, name, array):
        weights[target] = (reader.prefix + name, array)

    embeddings = "embeddings."
    conv = reader.take(
        embeddings + "patch_embeddings.projection.weight", (dim, channels, patch_height, patch_width)
    )
    # (D, C, ph, pw) -> (ph, pw, C, D) -> one row per value of a flattened patch, as Patches orders them.
    put(
        "patch_encoder.projection.kernel",
        embeddings + "patch_embeddings.projection.weight",
        conv.transpose(2, 3, 1, 0).reshape(-1, dim),
    )
    put(
        "patch_encoder.projection.bias",
        embeddings + "patch_embeddings.projection.bias",
        reader.take(embeddings + "patch_embeddings.projection.bias", (dim,)),
    )
    put(
        "patch_encoder.class_embedding",
        embeddings + "cls_token",
        reader.take(embeddings + "cls_token", (1, 1, dim)).reshape(dim),
    )
    if arguments["distillation"]:
        put(
            "patch_encoder.distillation_embedding",
            embeddings + "distillation_token",
            reader.take(embeddings + "distillation_token", (1, 1, dim)).reshape(dim),
        )
    put(
        "patch_encoder.position_embedding",
        embeddings + "position_embeddings",
        reader.take(embeddings + "position_embeddings", (1, prefix_tokens + rows * columns, dim))[0],
    )

    zeros = np.zeros(dim, "float32")
    for index in range(arguments["num_layers"]):
        hf, block = f"encoder.layer.{index}.", f"block_{index}."
        for part in ("query", "key", "value"):
            name = f"{hf}attention.attention.{part}"
            kernel = reader.take(name + ".weight", (dim, dim))
            # Without qkv_bias the projections have none; a zero bias computes the same.
            bias = reader.take(name + ".bias", (dim,), default=None if qkv_bias else zeros)
            put(
                f"{block}attention.{part}_dense.kernel",
                name + ".weight",
                kernel.T.reshape(dim, heads, head_dim),
            )
            put(f"{block}attention.{part}_dense.bias", name + ".bias", bias.reshape(heads, head_dim))
        name = f"{hf}attention.output.dense"
        put(
            f"{block}attention.output_dense.kernel",
            name + ".weight",
            reader.take(name + ".weight", (dim, dim)).T.reshape(heads, head_dim, dim),
        )
        put(f"{block}attention.output_dense.bias", name + ".bias", reader.take(name + ".bias", (dim,)))
        for hf_norm, norm in (("layernorm_before", "attention_norm"), ("layernorm_after", "mlp_norm")):
            put(f"{block}{norm}.gamma", f"{hf}{hf_norm}.weight", reader.take(f"{hf}{hf_norm}.weight", (dim,)))
            put(f"{block}{norm}.beta", f"{hf}{hf_norm}.bias", reader.take(f"{hf}{hf_norm}.bias", (dim,)))
        for hf_dense, dense, shape in (
            ("intermediate.dense", "mlp_hidden", (hidden, dim)),
            ("output.dense", "mlp_output", (dim, hidden)),
        ):
            put(
                f"{block}{dense}.kernel",
                f"{hf}{hf_dense}.weight",
                reader.take(f"{hf}{hf_dense}.weight", shape).T,
            )
            put(
                f"{block}{dense}.bias", f"{hf}{hf_dense}.bias", reader.take(f"{hf}{hf_dense}.bias", shape[:1])
            )
    put("final_norm.gamma", "layernorm.weight", reader.take("layernorm.weight", (dim,)))
    put("final_norm.beta", "layernorm.bias", reader.take("layernorm.bias", (dim,)))
    return weights
