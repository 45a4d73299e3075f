"""Masked autoencoders (He et al., 2021): pre-training a ViT encoder without labels.

Hide most of an image's patches, encode the few that are left, and ask a light
decoder to paint the hidden ones back. To do that, the encoder has to learn what
clothes (or objects) look like; afterwards the decoder is thrown away and the
encoder is fine-tuned with a classification head on the labels there are.

    images -> Patches -> PatchEncoder -> RandomPatchMasking -> encoder blocks
           -> MAEDecoder (mask tokens put back in place, positions, small Transformer)
           -> pixels of every patch; the loss counts only the hidden ones.
"""

import keras
from keras import ops

from keraskit.layers import PatchEncoder, Patches, TransformerBlock, unpatchify
from keraskit.layers.masking import RandomPatchMasking
from keraskit.layers.position import sincos_2d_encoding
from keraskit.validation import check_positive_int, to_pair


def patch_statistics(patches):
    """Each patch's mean and deviation, `(batch, num_patches, 1)` each: MAE's normalised pixels.

    The deviation is `sqrt(variance + 1e-6)`, so a blank patch gives 0 / 0.001, not NaN.
    """
    mean = ops.mean(patches, axis=-1, keepdims=True)
    return mean, ops.sqrt(ops.var(patches, axis=-1, keepdims=True) + 1e-6)


def masked_reconstruction_loss(patches, predictions, mask, *, normalize_targets=True):
    """MAE's loss: the mean squared error over the hidden patches only.

    Visible patches are not scored: copying what the encoder saw teaches
    nothing. With `normalize_targets`, each target patch is first standardised
    by its own mean and variance (the paper's "normalized pixels", which it
    found gives better features: the model spends its effort on shapes and edges
    rather than on each patch's brightness).

    Args:
        patches: `(batch, num_patches, patch_values)` true pixels, from `Patches`.
        predictions: `(batch, num_patches, patch_values)` reconstructed pixels.
        mask: `(batch, num_patches)`, 1 where a patch was hidden, 0 where visible.
        normalize_targets: standardise each target patch before comparing.

    Returns:
        A scalar: the mean over hidden patches of the per-patch mean squared error.

    Example:

    >>> import numpy as np
    >>> patches = np.zeros((1, 2, 4), dtype="float32")
    >>> predictions = np.array([[[1.0] * 4, [2.0] * 4]], dtype="float32")
    >>> mask = np.array([[0.0, 1.0]], dtype="float32")   # only the second patch was hidden
    >>> float(masked_reconstruction_loss(patches, predictions, mask, normalize_targets=False))
    4.0
    """
    patches = ops.cast(patches, "float32")
    predictions = ops.cast(predictions, "float32")
    mask = ops.cast(mask, "float32")
    if tuple(patches.shape[1:]) != tuple(predictions.shape[1:]) or tuple(mask.shape[1:]) != tuple(
        patches.shape[1:2]
    ):
        raise ValueError(
            "masked_reconstruction_loss expects `patches` and `predictions` of the same shape "
            "(batch, num_patches, patch_values) and a `mask` of (batch, num_patches). Received: "
            f"{tuple(patches.shape)}, {tuple(predictions.shape)} and {tuple(mask.shape)}."
        )
    if normalize_targets:
        mean, deviation = patch_statistics(patches)
        patches = (patches - mean) / deviation
    per_patch = ops.mean(ops.square(predictions - patches), axis=-1)  # (B, N)
    return ops.sum(per_patch * mask) / ops.maximum(ops.sum(mask), 1.0)


def scatter_tokens(visible, kept, num_patches):
    """Puts `(batch, count, dim)` tokens back at patch indices `kept`; zeros elsewhere.

    Written as a product with one-hot rows, so it is differentiable and the same
    on every backend: `out[b, n] = sum_k onehot(kept[b, k])[n] * visible[b, k]`.
    """
    placement = ops.one_hot(ops.cast(kept, "int32"), num_patches, dtype=visible.dtype)  # (B, K, N)
    return ops.einsum("bkn,bkd->bnd", placement, visible)


@keras.saving.register_keras_serializable(package="keraskit")
class MAEDecoder(keras.layers.Layer):
    """MAE's light decoder: from the encoded visible patches to the pixels of all of them.

    1. project the encoder's tokens to the (narrower) decoder width;
    2. put each back at its place in the patch grid and fill the hidden places
       with one shared, learned mask token;
    3. add fixed 2D sin-cos positions, so each mask token knows which patch it
       stands for (the encoder's positions went into the visible tokens only);
    4. a few pre-norm Transformer blocks, a LayerNorm, and a linear layer to
       `patch_values` pixels per patch.

    Args:
        patch_values: pixels per patch to predict (`patch_height * patch_width * channels`).
        grid_size: `(rows, columns)` of the patch grid.
        hidden_dim: decoder width (the paper: 512 for a 1024-wide ViT-L).
        num_layers: decoder blocks (the paper: 8; one works for small images).
        num_heads: attention heads per block.
        intermediate_dim: MLP width of each block; default `4 * hidden_dim`.
        layer_norm_epsilon: epsilon of every LayerNorm.
        **kwargs: standard `keras.layers.Layer` arguments.

    Call arguments:
        encoded: `(batch, num_visible, encoder_dim)`, the encoder's output for
            the visible patches (without class token).
        kept: `(batch, num_visible)` indices of those patches, from `RandomPatchMasking`.

    Returns:
        `(batch, rows * columns, patch_values)`: a prediction for every patch.

    Example:

    >>> import numpy as np
    >>> decoder = MAEDecoder(patch_values=16, grid_size=(4, 4), hidden_dim=8, num_layers=1, num_heads=2)
    >>> encoded = np.random.rand(2, 4, 12).astype("float32")
    >>> kept = np.array([[0, 5, 10, 15], [1, 2, 3, 4]])
    >>> tuple(decoder(encoded, kept).shape)
    (2, 16, 16)
    """

    def __init__(
        self,
        *,
        patch_values,
        grid_size,
        hidden_dim,
        num_layers=1,
        num_heads=1,
        intermediate_dim=None,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.patch_values = check_positive_int(patch_values, "patch_values")
        self.grid_size = to_pair(grid_size, "grid_size")
        self.hidden_dim = check_positive_int(hidden_dim, "hidden_dim")
        if self.hidden_dim % 4:
            raise ValueError(
                "MAEDecoder: `hidden_dim` must be divisible by 4 (its 2D sin-cos positions give a "
                f"quarter of the width to each of sin/cos x rows/columns). Received: hidden_dim={hidden_dim}"
            )
        self.num_layers = check_positive_int(num_layers, "num_layers")
        self.num_heads = check_positive_int(num_heads, "num_heads")
        self.intermediate_dim = check_positive_int(
            intermediate_dim or 4 * self.hidden_dim, "intermediate_dim"
        )
        self.layer_norm_epsilon = layer_norm_epsilon
        self.embed = keras.layers.Dense(self.hidden_dim, dtype=self.dtype_policy, name="embed")
        self.blocks = [
            TransformerBlock(
                self.num_heads,
                intermediate_dim=self.intermediate_dim,
                layer_norm_epsilon=layer_norm_epsilon,
                dtype=self.dtype_policy,
                name=f"decoder_block_{index}",
            )
            for index in range(self.num_layers)
        ]
        self.norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, dtype=self.dtype_policy, name="decoder_norm"
        )
        self.head = keras.layers.Dense(self.patch_values, dtype=self.dtype_policy, name="pixels")

    @property
    def num_patches(self):
        return self.grid_size[0] * self.grid_size[1]

    def build(self, encoded_shape, kept_shape=None):
        check_positive_int(encoded_shape[-1], "the encoder width")
        self.embed.build(encoded_shape)
        self.mask_token = self.add_weight(
            name="mask_token",
            shape=(self.hidden_dim,),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )
        sequence = (encoded_shape[0], self.num_patches, self.hidden_dim)
        for block in self.blocks:
            block.build(sequence)
        self.norm.build(sequence)
        self.head.build(sequence)

    def call(self, encoded, kept, training=None):
        x = self.embed(encoded)  # (B, K, D_decoder)
        num_patches = self.num_patches
        # 1 where a patch was visible: those places get their token, the others the mask token.
        seen = ops.sum(ops.one_hot(ops.cast(kept, "int32"), num_patches, dtype=x.dtype), axis=1)[:, :, None]
        mask_token = ops.cast(self.mask_token, x.dtype)[None, None, :]
        x = scatter_tokens(x, kept, num_patches) + (1.0 - seen) * mask_token  # (B, N, D_decoder)
        x = x + ops.cast(sincos_2d_encoding(self.grid_size, self.hidden_dim), x.dtype)[None]
        for block in self.blocks:
            x = block(x, training=training)
        return self.head(self.norm(x))

    def compute_output_shape(self, encoded_shape, kept_shape=None):
        return (encoded_shape[0], self.num_patches, self.patch_values)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "patch_values": self.patch_values,
                "grid_size": self.grid_size,
                "hidden_dim": self.hidden_dim,
                "num_layers": self.num_layers,
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
        return config


@keras.saving.register_keras_serializable(package="keraskit")
class MaskedAutoencoder(keras.Model):
    """A masked autoencoder around a keraskit ViT encoder, trained with `fit(images)`.

    The encoder is a ViT from `keraskit.models.vit(..., include_top=False)`
    (or `vit_from_pretrained(..., include_top=False)`). The autoencoder *shares*
    its layers: after pre-training, the same `encoder` object holds the learned
    weights, ready for a classification head. Its class token, if it has one, is
    encoded along with the visible patches (as in the paper) and not decoded.

    `fit` needs images only (no labels): the loss is `masked_reconstruction_loss`
    on the hidden patches. Calling the model returns the reconstruction of every
    patch and the mask that was used.

    Args:
        encoder: a functional keraskit ViT with one `Patches`, one `PatchEncoder`,
            its `TransformerBlock`s and a final LayerNorm named `"final_norm"`.
        mask_ratio: fraction of patches hidden from the encoder (the paper: 0.75).
        decoder_dim, decoder_layers, decoder_heads, decoder_intermediate_dim:
            sizes of the `MAEDecoder`.
        normalize_targets: reconstruct per-patch standardised pixels (the paper's default).
        seed: seed of the random masks.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: `(batch, height, width, channels)`.
        noise: optional `(batch, num_patches)` noise fixing the mask (see
            `RandomPatchMasking`).

    Returns:
        A dict: `"predictions"` `(batch, num_patches, patch_values)` and `"mask"`
        `(batch, num_patches)`, 1.0 where a patch was hidden. With
        `normalize_targets`, predictions are in standardised units per patch;
        `reconstruct` turns them back into images.

    Example:

    >>> import numpy as np
    >>> from keraskit.models import vit
    >>> encoder = vit(image_size=16, patch_size=4, channels=1, num_classes=None, hidden_dim=16,
    ...               num_layers=1, num_heads=2, intermediate_dim=32, pooling="gap", include_top=False)
    >>> mae = MaskedAutoencoder(encoder, decoder_dim=8, decoder_heads=2)
    >>> mae.compile(optimizer="adam")
    >>> history = mae.fit(np.random.rand(8, 16, 16, 1).astype("float32"), epochs=1, verbose=0)
    >>> tuple(mae(np.zeros((2, 16, 16, 1), "float32"))["predictions"].shape)
    (2, 16, 16)
    """

    def __init__(
        self,
        encoder,
        *,
        mask_ratio=0.75,
        decoder_dim=64,
        decoder_layers=1,
        decoder_heads=2,
        decoder_intermediate_dim=None,
        normalize_targets=True,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.patches, self.patch_encoder, self.blocks, self.final_norm = _encoder_parts(encoder)
        self.mask_ratio = mask_ratio
        self.normalize_targets = bool(normalize_targets)
        self.seed = seed
        self.masking = RandomPatchMasking(mask_ratio, seed=seed, name="masking")
        patch_height, patch_width = self.patches.patch_size
        self.decoder = MAEDecoder(
            patch_values=patch_height * patch_width * self.patches.channels,
            grid_size=self.patch_encoder.grid_size,
            hidden_dim=decoder_dim,
            num_layers=decoder_layers,
            num_heads=decoder_heads,
            intermediate_dim=decoder_intermediate_dim,
            name="decoder",
        )

    def call(self, images, noise=None, training=None):
        tokens = self.patch_encoder(self.patches(images), training=training)
        prefix_length = self.patch_encoder.num_prefix_tokens
        visible, kept, mask = self.masking(tokens[:, prefix_length:], noise=noise)
        x = ops.concatenate([tokens[:, :prefix_length], visible], axis=1)
        for block in self.blocks:
            x = block(x, training=training)
        x = self.final_norm(x)
        predictions = self.decoder(x[:, prefix_length:], kept, training=training)
        return {"predictions": predictions, "mask": mask}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        images = x[0] if isinstance(x, (tuple, list)) else x
        loss = masked_reconstruction_loss(
            self.patches(images),
            y_pred["predictions"],
            y_pred["mask"],
            normalize_targets=self.normalize_targets,
        )
        # Keras adds the regularisation losses of the layers (none by default) itself in
        # `Model.compute_loss`; keep them, as a user's kernel_regularizer expects.
        if self.losses:
            loss = loss + ops.sum(self.losses)
        return loss

    def reconstruct(self, images, noise=None):
        """Images `(batch, h, w, c)` in which the hidden patches are the model's guesses.

        Visible patches are the input's own; with `normalize_targets`, each
        guessed patch is brought back to pixels with the mean and variance of the
        true patch (as the paper's figures do: the model was never asked for
        those). Returns `(reconstructed, mask)`.
        """
        outputs = self(images, noise=noise, training=False)
        patches = ops.cast(self.patches(images), "float32")
        guesses = ops.cast(outputs["predictions"], "float32")
        if self.normalize_targets:
            mean, deviation = patch_statistics(patches)
            guesses = guesses * deviation + mean  # the inverse of the loss's standardisation
        hidden = outputs["mask"][:, :, None]
        mixed = hidden * guesses + (1.0 - hidden) * patches
        return unpatchify(mixed, tuple(images.shape[1:]), self.patches.patch_size), outputs["mask"]

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "mask_ratio": self.mask_ratio,
                "decoder_dim": self.decoder.hidden_dim,
                "decoder_layers": self.decoder.num_layers,
                "decoder_heads": self.decoder.num_heads,
                "decoder_intermediate_dim": self.decoder.intermediate_dim,
                "normalize_targets": self.normalize_targets,
                "seed": self.seed,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def _encoder_parts(encoder):
    layers = getattr(encoder, "layers", None) or []
    patches = [layer for layer in layers if isinstance(layer, Patches)]
    encoders = [layer for layer in layers if isinstance(layer, PatchEncoder)]
    blocks = [layer for layer in layers if isinstance(layer, TransformerBlock)]
    norms = [layer for layer in layers if layer.name == "final_norm"]
    if len(patches) != 1 or len(encoders) != 1 or not blocks or len(norms) != 1:
        raise ValueError(
            "MaskedAutoencoder expects a keraskit ViT encoder (keraskit.models.vit(..., "
            "include_top=False)): one Patches layer, one PatchEncoder, TransformerBlocks and a "
            f"LayerNorm named 'final_norm'. Received {getattr(encoder, 'name', encoder)!r} with "
            f"{len(patches)} Patches, {len(encoders)} PatchEncoder, {len(blocks)} TransformerBlocks "
            f"and {len(norms)} 'final_norm'."
        )
    return patches[0], encoders[0], blocks, norms[0]
