"""Pretrained Vision Transformers: Hugging Face and KerasHub weights in a keraskit ViT.

A ViT trained from scratch on a small dataset loses to a small CNN (lesson 10);
one pretrained on millions of images and fine-tuned wins. keraskit's ViT has the
architecture of the published ViT and DeiT checkpoints, so loading them is a
matter of reading their arrays into its layers, transposed where PyTorch and
Keras lay them out differently.
"""

from pathlib import Path

from keraskit.models.pretrained import huggingface, kerashub, preprocessing
from keraskit.models.pretrained.checkpoint import build_model

__all__ = ["preprocessing_from_pretrained", "vit_from_pretrained"]


def vit_from_pretrained(source, *, num_classes=None, image_size=None, include_top=True):
    """A keraskit ViT with the weights of a pretrained ViT or DeiT.

    The model is a plain functional `keras.Model` built by `keraskit.models.vit`
    from keraskit layers: train it, save it to `.keras`, shard it, as any other.
    It takes channels-last images holding the numbers the checkpoint's own
    framework takes (for Hugging Face: `pixel_values` transposed to
    `(batch, height, width, channels)`); `preprocessing_from_pretrained` makes
    them from raw images. Layer-norm epsilon, activation, dropout rates and
    biases come from the checkpoint's config.

    Loads:
        - a local Hugging Face directory (`config.json` and `model.safetensors`,
          or `pytorch_model.bin`, which needs PyTorch to read) of a `ViTModel`,
          `ViTForImageClassification`, `DeiTModel`, `DeiTForImageClassification`
          or `DeiTForImageClassificationWithTeacher` (its distillation token and
          head become `vit(distillation=True)`'s: two outputs, average them);
        - a Hugging Face repo id such as `"google/vit-base-patch16-224"`,
          downloaded with `huggingface_hub` (`pip install "keraskit[pretrained]"`);
          offline, the error says what to run on a machine that is online;
        - a KerasHub `ViTBackbone` or `ViTImageClassifier` object.

    Not loaded: ViTs with other parts (ViTMAE's decoder, ViTForMaskedImageModeling,
    ViTHybrid's CNN stem, Swin, BEiT's relative positions, DINOv2's layer scale).
    A `ViTModel`'s pooler (a Dense + tanh after the class token) is not used.

    Args:
        source: a directory path, a Hugging Face repo id, or a KerasHub model.
        num_classes: classes of the head. None keeps the checkpoint's head; a
            different number gives a new head, freshly initialised (for
            fine-tuning). Needed with `include_top=True` when the checkpoint has
            no head (a `ViTModel`).
        image_size: int or `(height, width)`; default: the checkpoint's. Another
            size interpolates the position embeddings bicubically, as Hugging
            Face's `interpolate_pos_encoding=True` does; it must be a multiple of
            the patch size.
        include_top: the classifier (True), or the pooled features `(batch,
            hidden_dim)`: the class token after the final LayerNorm.

    Returns:
        A `keras.Model` from images to logits (or features).

    Example (needs the Hub, or the folder downloaded by hand; the tests run
    the same calls on checkpoints they write):

    ```python
    model = vit_from_pretrained("google/vit-base-patch16-224")
    preprocess = preprocessing_from_pretrained("google/vit-base-patch16-224")
    logits = model(preprocess(uint8_images))  # the 1000 ImageNet classes
    features = vit_from_pretrained("google/vit-base-patch16-224", include_top=False)
    # A new head for 10 classes, at a higher resolution, to fine-tune:
    tuned = vit_from_pretrained("google/vit-base-patch16-224", num_classes=10, image_size=384)
    ```
    """
    if kerashub.is_keras_hub_vit(source):
        checkpoint = kerashub.checkpoint_from_keras_hub(source)
    elif isinstance(source, (str, Path)):
        checkpoint = huggingface.read_checkpoint(source)
    else:
        raise TypeError(
            "vit_from_pretrained expects a directory path, a Hugging Face repo id or a KerasHub "
            f"ViTBackbone / ViTImageClassifier. Received an object of type {type(source).__name__}."
        )
    return build_model(checkpoint, num_classes=num_classes, image_size=image_size, include_top=include_top)


def preprocessing_from_pretrained(source):
    """The preprocessing a Hugging Face checkpoint's images had, as Keras layers.

    Reads `preprocessor_config.json` (resize, rescale to [0, 1], normalise with
    the mean and standard deviation of its training data, and DeiT's centre crop)
    into a `keras.Sequential` of Keras's own preprocessing layers: raw images in
    (`uint8` or floats in [0, 255], any size), the numbers `vit_from_pretrained`'s
    model expects out. Resizing is Keras's, not PIL's: on images already at the
    checkpoint's size the outputs equal `transformers`' image processor; resized,
    they differ by at most one 8-bit level (PIL rounds its resized images to
    integers; Keras keeps floats).

    Args:
        source: a checkpoint directory or a Hugging Face repo id.

    Returns:
        A `keras.Sequential` named `"preprocessing"`.

    Example (needs the Hub, or the folder downloaded by hand):

    ```python
    preprocess = preprocessing_from_pretrained("google/vit-base-patch16-224")
    model = vit_from_pretrained("google/vit-base-patch16-224")
    predictions = model(preprocess(uint8_images))
    ```
    """
    directory = huggingface.local_directory(source)
    config = preprocessing.read_preprocessing_config(directory)
    return preprocessing.preprocessing_from_config(config, source=f"{source}/preprocessor_config.json")
