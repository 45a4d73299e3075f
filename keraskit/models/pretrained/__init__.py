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

__all__ = ["labels_from_pretrained", "preprocessing_from_pretrained", "vit_from_pretrained"]


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
          head become `vit(distillation=True)`'s: two outputs; transformers and
          timm predict with their logits' average, the DeiT paper with their
          softmax probabilities' average, as `HardDistillation` does);
        - a Hugging Face repo id such as `"google/vit-base-patch16-224"`,
          downloaded with `huggingface_hub` (`pip install "keraskit[pretrained]"`);
          offline, the error says what to run on a machine that is online;
        - a KerasHub `ViTBackbone` or `ViTImageClassifier` object.

    Not loaded, each with an error that says why: a `model_type` other than
    `vit` and `deit` (BEiT, Swin, DINOv2, ViTMAE, ViT-hybrid, ...); a `vit` with
    other parts (`ViTForMaskedImageModeling`); an activation Keras does not
    compute exactly (e.g. `gelu_new`); a KerasHub classifier with a pre-logits
    layer or averaging the class token with the patches, or channels-first. A
    `ViTModel`'s pooler (a Dense + tanh after the class token) is not used.

    Args:
        source: a directory path, a Hugging Face repo id, or a KerasHub model.
        num_classes: classes of the head. None, or the checkpoint's own
            number, keeps the checkpoint's head; a different number gives a new
            head, freshly initialised, returning logits (for fine-tuning).
            Needed with `include_top=True` when the checkpoint has no head (a
            `ViTModel`); an error with `include_top=False`.
        image_size: int or `(height, width)`; default: the checkpoint's. Another
            size interpolates the position embeddings bicubically, as Hugging
            Face's `interpolate_pos_encoding=True` does; it must be a multiple of
            the patch size. Preprocess with `preprocessing_from_pretrained(source,
            image_size=...)` to match.
        include_top: the classifier (True), or the pooled features `(batch,
            hidden_dim)`: the class token after the final LayerNorm.

    Returns:
        A `keras.Model` from images to logits (or features); for a DeiT with
        teacher, two outputs `[class_logits, distillation_logits]`. It is not
        compiled.

    Example (needs the Hub, or the folder downloaded by hand; the tests run
    the same calls on checkpoints they write):

    ```python
    model = vit_from_pretrained("google/vit-base-patch16-224")
    preprocess = preprocessing_from_pretrained("google/vit-base-patch16-224")
    logits = model(preprocess(uint8_images))  # the 1000 ImageNet classes
    features = vit_from_pretrained("google/vit-base-patch16-224", include_top=False)
    # A new head for 10 classes, at a higher resolution, to fine-tune:
    tuned = vit_from_pretrained("google/vit-base-patch16-224", num_classes=10, image_size=384)
    preprocess_384 = preprocessing_from_pretrained("google/vit-base-patch16-224", image_size=384)
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


def preprocessing_from_pretrained(source, *, image_size=None):
    """The preprocessing a Hugging Face checkpoint's images had, as Keras layers.

    Reads `preprocessor_config.json` (resize, rescale to [0, 1], normalise with
    the mean and standard deviation of its training data, and DeiT's centre crop)
    into a `keras.Sequential` of Keras's own preprocessing layers: raw RGB images
    in (`uint8` or floats in [0, 255], not [0, 1]; any size, squashed to the
    model's square without keeping the aspect ratio), the numbers
    `vit_from_pretrained`'s model expects out. A repo id downloads only
    `preprocessor_config.json`.

    Resizing is Keras's, not PIL's. When the resize changes nothing (images
    already at the config's `size`) the outputs equal `transformers`' image
    processor (tested within 1e-5, ViT and DeiT); after a bilinear upsampling
    they differ by at most one 8-bit level, PIL rounding its resized images to
    integers (tested). Downsampling, bicubic filters and Keras 3.8 (whose
    `Resizing` does not antialias) are not tested against PIL and may differ more.
    Configs with a `"shortest_edge"` size are refused.

    For a KerasHub model use its own preprocessor
    (`keras_hub.models.ViTImageClassifier.from_preset(...).preprocessor`).

    Args:
        source: a checkpoint directory or a Hugging Face repo id.
        image_size: int or `(height, width)`: end at this size instead of the
            checkpoint's, for a model loaded with the same `image_size`.

    Returns:
        A `keras.Sequential` named `"preprocessing"`.

    Example (needs the Hub, or the folder downloaded by hand):

    ```python
    preprocess = preprocessing_from_pretrained("google/vit-base-patch16-224")
    model = vit_from_pretrained("google/vit-base-patch16-224")
    predictions = model(preprocess(uint8_images))
    ```
    """
    directory = huggingface.local_directory(source, files="preprocessing")
    config = preprocessing.read_preprocessing_config(directory)
    return preprocessing.preprocessing_from_config(
        config, source=f"{source}/preprocessor_config.json", image_size=image_size
    )


def labels_from_pretrained(source):
    """The class names of a Hugging Face checkpoint's head, in the order of its outputs.

    Read from `config.json`'s `id2label`, so `labels[i]` names the class of
    `vit_from_pretrained(source)`'s output `i` (for `google/vit-base-patch16-224`,
    the 1,000 ImageNet classes: `labels[0] == "tench, Tinca tinca"`). A repo id
    is fetched as `vit_from_pretrained` fetches it (from the local cache once
    downloaded).

    Args:
        source: a checkpoint directory or a Hugging Face repo id.

    Returns:
        A list of strings, one per class.

    Raises:
        ValueError: the checkpoint has no `id2label` (a `ViTModel` without a head).

    Example (needs the Hub, or the folder downloaded by hand):

    ```python
    labels = labels_from_pretrained("google/vit-base-patch16-224")
    model = vit_from_pretrained("google/vit-base-patch16-224")
    top = int(keras.ops.argmax(model(images)[0]))
    print(labels[top])
    ```
    """
    directory = huggingface.local_directory(source)
    config = huggingface.read_config(directory)
    names = config.get("id2label")
    if not names:
        raise ValueError(
            f"{source}: config.json has no `id2label`, so its outputs have no names (a checkpoint "
            "without a classification head, such as a ViTModel, has none)."
        )
    return [names[key] for key in sorted(names, key=int)]
