"""From raw images to the numbers a pretrained ViT expects: preprocessor_config.json as Keras layers.

A checkpoint was trained on images resized, scaled to [0, 1] and normalised in
one particular way; fed anything else it sees a shifted world and its accuracy
drops. Hugging Face writes that way down in `preprocessor_config.json`; here it
becomes Keras's own preprocessing layers, which run on every backend, inside a
model or in a `tf.data` pipeline.
"""

import inspect
import json
from pathlib import Path

import keras
import numpy as np

from keraskit.validation import to_pair

# The defaults of Hugging Face's processors, for the fields a config leaves out.
VIT_DEFAULTS = dict(
    do_resize=True, size=224, resample=2, do_center_crop=False, crop_size=224,
    do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
    image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5],
)  # fmt: skip
DEIT_DEFAULTS = dict(
    VIT_DEFAULTS, size=256, resample=3, do_center_crop=True,
    image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
)  # fmt: skip
# PIL's resampling filters, by the number Hugging Face stores, as Keras names them.
RESAMPLE = {0: "nearest", 1: "lanczos3", 2: "bilinear", 3: "bicubic"}


def preprocessing_from_config(config, source="preprocessor_config.json", *, image_size=None):
    """A `keras.Sequential` doing what a Hugging Face image processor config says.

    Args:
        config: the contents of `preprocessor_config.json`, as a dict.
        source: where it came from, for error messages.
        image_size: int or `(height, width)` the images must end at, for a model
            loaded at another resolution; default: the config's. With a centre
            crop (DeiT), the resize keeps the config's ratio of resize to crop.

    Returns:
        A `keras.Sequential` from images `(batch, height, width, channels)`, any
        size, `uint8` or float in [0, 255], to the model's input.

    Example:

    >>> import numpy as np
    >>> preprocess = preprocessing_from_config({"size": {"height": 4, "width": 4}})
    >>> images = np.full((1, 8, 8, 3), 255, dtype="uint8")
    >>> round(float(preprocess(images)[0, 0, 0, 0]), 4)  # 255 -> 1.0 -> (1.0 - 0.5) / 0.5
    1.0
    """
    kind = str(config.get("image_processor_type") or config.get("feature_extractor_type") or "")
    settings = dict(DEIT_DEFAULTS if "DeiT" in kind else VIT_DEFAULTS)
    settings.update({key: value for key, value in config.items() if key in settings})
    if image_size is not None:
        _rescale_sizes(settings, to_pair(image_size, "image_size"), source)
    steps = [keras.Input((None, None, len(settings["image_mean"])))]
    if settings["do_resize"]:
        height, width = _size(settings["size"], "size", source)
        resample = settings["resample"]
        if resample not in RESAMPLE:
            raise ValueError(
                f"{source}: resample={resample!r} is a PIL filter Keras does not have; supported: "
                f"{', '.join(f'{number} ({name})' for number, name in RESAMPLE.items())}."
            )
        options = {"interpolation": RESAMPLE[resample]}
        if "antialias" in inspect.signature(keras.layers.Resizing).parameters:  # not in Keras 3.8
            options["antialias"] = True  # PIL smooths before shrinking; so does this
        steps.append(keras.layers.Resizing(height, width, **options))
    if settings["do_center_crop"]:
        steps.append(keras.layers.CenterCrop(*_size(settings["crop_size"], "crop_size", source)))
    if settings["do_rescale"]:
        steps.append(keras.layers.Rescaling(settings["rescale_factor"]))
    if settings["do_normalize"]:
        std = np.asarray(settings["image_std"], "float32")
        steps.append(keras.layers.Normalization(mean=settings["image_mean"], variance=std**2))
    return keras.Sequential(steps, name="preprocessing")


def read_preprocessing_config(directory):
    """`preprocessor_config.json` of a checkpoint directory, as a dict."""
    path = Path(directory) / "preprocessor_config.json"
    if not path.is_file():
        raise FileNotFoundError(
            f"{directory} has no preprocessor_config.json, which says how the checkpoint's images were "
            "resized and normalised. Copy it from the checkpoint's repository (it is small), or, if "
            "the repository has none, build the layers from the values its model card gives with "
            "keraskit.models.pretrained.preprocessing.preprocessing_from_config({...})."
        )
    return json.loads(path.read_text())


def _rescale_sizes(settings, image_size, source):
    """Makes the preprocessing end at `image_size`, keeping a centre crop's proportion."""
    height, width = image_size
    if settings["do_center_crop"]:
        crop_height, crop_width = _size(settings["crop_size"], "crop_size", source)
        resize_height, resize_width = _size(settings["size"], "size", source)
        settings["size"] = {
            "height": round(resize_height * height / crop_height),
            "width": round(resize_width * width / crop_width),
        }
        settings["crop_size"] = {"height": height, "width": width}
    else:
        settings["size"] = {"height": height, "width": width}
        settings["do_resize"] = True


def _size(size, name, source):
    if isinstance(size, int):
        return size, size
    if isinstance(size, dict) and {"height", "width"} <= set(size):
        return int(size["height"]), int(size["width"])
    raise ValueError(
        f"{source}: {name}={size!r} is not supported; expected an int or "
        '{"height": ..., "width": ...} (a "shortest_edge" resize keeps the aspect ratio, which '
        "keraskit's fixed-size ViT input cannot)."
    )
