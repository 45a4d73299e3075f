"""Model parallelism: a ViT's attention and MLP weights split across devices (Megatron-LM).

Data parallelism (`keraskit.training.data_parallel`) keeps a whole copy of the
model on each device; a model too large for one device must itself be split.
The Megatron-LM split (Shoeybi et al., 2019) cuts each Transformer block in two
places only: the first projection of each sub-layer (attention's q, k, v; the
MLP's hidden Dense) is split by columns, so each device computes its own heads
or its own slice of the hidden units from the whole input, and the second
projection (attention's output, the MLP's output Dense) by rows, so each device
multiplies only the slice it holds. One sum across devices per sub-layer
rebuilds the output; nothing in between is exchanged.

Here the split is a `keras.distribution.LayoutMap` (which weight lies where,
by its path) inside a `keras.distribution.ModelParallel`; XLA's sharding
propagation then partitions the computation to match. Keras's distribution API
runs on the JAX backend.
"""

import math

import keras

from keraskit.validation import check_positive_int

__all__ = ["check_model_parallel", "model_parallel", "vit_layout_map"]


def _megatron_specs(model_axis):
    """How each split weight of a `TransformerBlock` lies on the mesh, by its path in the block.

    Biases follow their kernel's output: q, k, v and `mlp_hidden` biases are
    split like their columns; the output biases are added once, after the sum
    across devices, so they stay whole (replicated, as every other weight).
    """
    m = model_axis
    return {
        # (hidden_dim, num_heads, head_dim) and (num_heads, head_dim): each device its own heads.
        "attention/(?:query|key|value)/kernel": (None, m, None),
        "attention/(?:query|key|value)/bias": (m, None),
        # (num_heads, head_dim, hidden_dim): the rows of the heads that device computed.
        "attention/output/kernel": (m, None, None),
        # (hidden_dim, intermediate_dim) and (intermediate_dim,): columns, so GELU stays local.
        "mlp_hidden/kernel": (None, m),
        "mlp_hidden/bias": (m,),
        # (intermediate_dim, hidden_dim): the rows matching that device's hidden units.
        "mlp_output/kernel": (m, None),
    }


def vit_layout_map(device_mesh, *, model_axis="model"):
    """A `keras.distribution.LayoutMap` that splits a keraskit ViT's blocks the Megatron way.

    Inside every `TransformerBlock` (the layers `block_0`, `block_1`, ... of
    `keraskit.models.vit`), attention's q, k, v and output projections are split
    over the heads, the MLP's first Dense by columns and its second by rows, all
    over the mesh axis `model_axis`. Everything else (patch projection, class
    token, position embedding, LayerNorms, head) matches no key, and
    `ModelParallel` replicates it.

    The keys are regexes over variable paths such as
    `block_3/attention/query/kernel`. They do not name the model, and allow a
    prefix, so a ViT of any name, or nested in another model, matches. Keras
    3.8 matches keys with `re.search` and later Keras with `re.fullmatch`; the
    anchors make both mean the same. A second key per weight matches its
    optimizer variables (Adam's momentum and velocity, paths like
    `adamw/block_3_attention_query_kernel_momentum`): Keras before 3.10 looks
    those up in the map too (3.10 on gives them their weight's layout), and would
    otherwise keep them whole on every device.

    Args:
        device_mesh: a `keras.distribution.DeviceMesh` with an axis named `model_axis`.
        model_axis: the mesh axis the weights are split over. The number of
            devices along it must divide `num_heads` and `intermediate_dim`
            (see `check_model_parallel`).

    Returns:
        A `LayoutMap` over `device_mesh`, for `keras.distribution.ModelParallel`.

    Example (a map is only names: it needs no devices to look in):

    >>> from keras.distribution import DeviceMesh
    >>> mesh = DeviceMesh((2, 4), ("batch", "model"), [f"gpu:{i}" for i in range(8)])
    >>> layout_map = vit_layout_map(mesh)
    >>> layout_map["block_0/attention/query/kernel"].axes
    (None, 'model', None)
    >>> layout_map["block_11/mlp_output/kernel"].axes
    ('model', None)
    >>> layout_map["block_0/attention/output/bias"] is None  # replicated
    True
    """
    if model_axis not in device_mesh.axis_names:
        raise ValueError(
            f"`model_axis`={model_axis!r} is not an axis of the device mesh, whose axes are "
            f"{tuple(device_mesh.axis_names)}. Pass one of them as model_axis."
        )
    layout_map = keras.distribution.LayoutMap(device_mesh)
    for path, axes in _megatron_specs(model_axis).items():
        layout_map[rf"^(?:.*/)?block_\d+/{path}$"] = axes
        # The optimizer names a weight's variables after its path, "/" turned into "_".
        layout_map[rf"^.*/block_\d+_{path.replace('/', '_')}_[a-z_]+$"] = axes
    return layout_map


def _keras_version():
    return tuple(int(part) for part in keras.__version__.split(".")[:2])


def _require_jax():
    backend = keras.backend.backend()
    if backend != "jax":
        raise RuntimeError(
            "Keras's ModelParallel distribution runs on the JAX backend only; this process runs "
            f"Keras on {backend!r}. Set KERAS_BACKEND=jax before importing keras."
        )


def model_parallel(mesh_shape=None, *, axis_names=("batch", "model"), devices=None, model_axis="model"):
    """A `keras.distribution.ModelParallel` that splits a keraskit ViT over devices.

    The devices form a mesh of shape `mesh_shape`. The batch is split over the
    first axis (data parallelism between groups of devices), and each block's
    attention and MLP weights over `model_axis`, as `vit_layout_map` says.
    Build, compile and fit the model inside `distribution.scope()`: each weight
    is created directly on its devices, so no device ever holds the whole model.

    Runs on the JAX backend (a `RuntimeError` says so on the others). The
    arguments are checked first, on any backend, when `devices` is given
    (listing the devices needs JAX). Splitting both the batch and
    the model (`mesh_shape` like `(2, 4)`) needs Keras 3.10 or later; earlier
    Keras feeds the devices the wrong images, so it is refused there.

    Args:
        mesh_shape: devices per axis, e.g. `(2, 4)` for 8 devices: 2 groups
            splitting the batch, 4 devices splitting each group's model. Its
            product must be the number of devices. Default: every device on
            `model_axis` (pure model parallelism).
        axis_names: a name per mesh axis; the first splits the batch.
        devices: device names, e.g. `["gpu:0", "gpu:1"]`; default
            `keras.distribution.list_devices()`.
        model_axis: the axis of `axis_names` that splits the weights; not the
            first, which splits the batch.

    Returns:
        A `keras.distribution.ModelParallel`.

    Example (the mesh must use every device; that is checked on any backend):

    >>> model_parallel((2, 3), devices=[f"gpu:{i}" for i in range(8)])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `mesh_shape`=(2, 3) holds 2 x 3 = 6 devices, but 8 devices were given. ...
    """
    axis_names = tuple(axis_names)
    if len(set(axis_names)) != len(axis_names) or not all(isinstance(a, str) for a in axis_names):
        raise ValueError(f"`axis_names` must be distinct strings. Received: axis_names={axis_names!r}")
    if model_axis not in axis_names:
        raise ValueError(
            f"`model_axis`={model_axis!r} is not in `axis_names`={axis_names!r}. Pass one of them."
        )
    if model_axis == axis_names[0]:
        raise ValueError(
            f"`model_axis`={model_axis!r} is the first axis, which splits the batch. Put a batch "
            f"axis first, e.g. axis_names=('batch', {model_axis!r}) with mesh_shape=(1, num_devices)."
        )
    if devices is None:
        _require_jax()  # the other backends cannot list their devices for a mesh
        devices = keras.distribution.list_devices()
    devices = list(devices)
    if mesh_shape is None:
        mesh_shape = tuple(len(devices) if name == model_axis else 1 for name in axis_names)
    if not isinstance(mesh_shape, (tuple, list)) or not all(
        isinstance(size, int) and not isinstance(size, bool) and size >= 1 for size in mesh_shape
    ):
        raise ValueError(
            "`mesh_shape` must be a tuple of positive ints, one per axis name, e.g. (2, 4). "
            f"Received: mesh_shape={mesh_shape!r}"
        )
    mesh_shape = tuple(mesh_shape)
    if len(mesh_shape) != len(axis_names):
        raise ValueError(
            f"`mesh_shape`={mesh_shape} has {len(mesh_shape)} axes but `axis_names`={axis_names!r} "
            f"names {len(axis_names)}. Give one size per name."
        )
    size = math.prod(mesh_shape)
    if size != len(devices):
        raise ValueError(
            f"`mesh_shape`={mesh_shape} holds {' x '.join(map(str, mesh_shape))} = {size} devices, but "
            f"{len(devices)} devices were given. The mesh must use every device: choose sizes whose "
            f"product is {len(devices)}."
        )
    groups = mesh_shape[0]
    if groups > 1 and size > groups and _keras_version() < (3, 10):
        # Keras before 3.10 puts the batch's slices on devices in an order that does not
        # follow the mesh, so the devices sharing one slice of the batch get different images
        # and the loss is wrong, silently. With one group, every device gets the whole batch.
        raise ValueError(
            f"`mesh_shape`={mesh_shape} splits the batch over {groups} groups and the model within "
            f"each, which Keras {keras.__version__} computes wrongly: before Keras 3.10 the batch's "
            "slices reach devices out of mesh order. Upgrade to keras>=3.10, or split the model "
            f"only: mesh_shape=(1, {size})."
        )
    _require_jax()
    mesh = keras.distribution.DeviceMesh(mesh_shape, axis_names, devices)
    return keras.distribution.ModelParallel(
        layout_map=vit_layout_map(mesh, model_axis=model_axis), batch_dim_name=axis_names[0]
    )


def check_model_parallel(device_mesh, *, num_heads, intermediate_dim, model_axis="model"):
    """Raises a `ValueError` unless a ViT's blocks split evenly over the mesh's `model_axis`.

    Each device must hold whole heads and an equal slice of the MLP's hidden
    units. Call it before building the model: once building has started, JAX
    stops at the first uneven weight with a message about array shapes.

    Args:
        device_mesh: the `keras.distribution.DeviceMesh` (`distribution.device_mesh`).
        num_heads: attention heads per block.
        intermediate_dim: hidden width of each block's MLP.
        model_axis: the mesh axis the weights are split over.

    Example (ViT-L's 16 heads and 4096 MLP units split over 4 devices, not over 3):

    >>> from keras.distribution import DeviceMesh
    >>> from keraskit.models import VIT_PRESETS
    >>> large = VIT_PRESETS["vit_large"]
    >>> mesh = DeviceMesh((2, 4), ("batch", "model"), [f"gpu:{i}" for i in range(8)])
    >>> check_model_parallel(mesh, num_heads=large["num_heads"], intermediate_dim=large["intermediate_dim"])
    >>> mesh = DeviceMesh((2, 3), ("batch", "model"), [f"gpu:{i}" for i in range(6)])
    >>> check_model_parallel(mesh, num_heads=16, intermediate_dim=4096)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: `num_heads`=16 does not split over the 3 devices of the mesh axis 'model': ...
    """
    axis_names = tuple(device_mesh.axis_names)
    if model_axis not in axis_names:
        raise ValueError(
            f"`model_axis`={model_axis!r} is not an axis of the device mesh, whose axes are {axis_names}."
        )
    parts = device_mesh.shape[axis_names.index(model_axis)]
    for name, value, unit in (
        ("num_heads", num_heads, "heads"),
        ("intermediate_dim", intermediate_dim, "units"),
    ):
        value = check_positive_int(value, name)
        if value % parts:
            raise ValueError(
                f"`{name}`={value} does not split over the {parts} devices of the mesh axis "
                f"{model_axis!r}: each device must hold the same number of whole {unit}. Choose a "
                f"{model_axis!r} axis size that divides {value}, or another {name}."
            )
