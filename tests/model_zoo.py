"""One small functional model per keraskit layer (and two ViTs), with fixed inputs.

Used by the serialization tests, in this process and in a subprocess running
another backend, so it must build the same inputs everywhere.
"""

import keras
import numpy as np

from keraskit import layers
from keraskit.models import MAEDecoder, vit


def _inputs(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(2, *shape)).astype("float32") for shape in shapes]


def _model(inputs, outputs):
    return keras.Model(inputs, outputs)


def _add_encoding(layer, shape):
    x = keras.Input(shape)
    return _model(x, keras.layers.Add()([x, layer(x)]))


def build_zoo():
    """name -> (model, list of NumPy inputs)."""
    zoo = {}

    x = keras.Input((8, 12, 3))
    zoo["Patches"] = (_model(x, layers.Patches((4, 6))(x)), _inputs(0, (8, 12, 3)))
    x = keras.Input((8, 12, 3))
    zoo["Patches-shifted"] = (_model(x, layers.Patches((4, 6), shifted=True)(x)), _inputs(0, (8, 12, 3)))
    x = keras.Input((8, 8, 3))
    zoo["PatchEmbedding"] = (_model(x, layers.PatchEmbedding(4, 16)(x)), _inputs(1, (8, 8, 3)))
    x = keras.Input((16, 12))
    zoo["PatchEncoder"] = (
        _model(x, layers.PatchEncoder(16, class_token=True, dropout=0.1)(x)),
        _inputs(2, (16, 12)),
    )
    x = keras.Input((16, 12))
    zoo["PatchEncoder-sincos2d"] = (
        _model(x, layers.PatchEncoder(16, grid_size=(2, 8), position="sincos2d")(x)),
        _inputs(3, (16, 12)),
    )
    x = keras.Input((16, 12))
    zoo["PatchEncoder-none"] = (
        _model(x, layers.PatchEncoder(16, class_token=True, position="none")(x)),
        _inputs(3, (16, 12)),
    )
    zoo["SinusoidalPositionEncoding"] = (
        _add_encoding(layers.SinusoidalPositionEncoding(), (10, 16)),
        _inputs(4, (10, 16)),
    )
    zoo["SinCos2DPositionEncoding"] = (
        _add_encoding(layers.SinCos2DPositionEncoding((2, 4)), (8, 16)),
        _inputs(5, (8, 16)),
    )
    zoo["LearnedPositionEmbedding"] = (
        _add_encoding(layers.LearnedPositionEmbedding(12), (10, 16)),
        _inputs(6, (10, 16)),
    )

    ids = keras.Input((7,), dtype="int32")
    embedded = layers.TokenAndPositionEmbedding(50, 7, hidden_dim=16, mask_zero=True)(ids)
    encoded = layers.TransformerBlock(2, intermediate_dim=32, normalize_first=False)(embedded)
    token_ids = np.array([[4, 8, 15, 16, 23, 0, 0], [42, 1, 2, 3, 4, 5, 6]], dtype="int32")
    zoo["TokenAndPositionEmbedding+masking"] = (_model(ids, layers.TokenPooling("gap")(encoded)), [token_ids])

    x = keras.Input((6, 16))
    zoo["MultiHeadSelfAttention"] = (
        _model(x, layers.MultiHeadSelfAttention(4, attention_dropout=0.1)(x)),
        _inputs(7, (6, 16)),
    )
    target, source = keras.Input((5, 16)), keras.Input((7, 16))
    zoo["MultiHeadCrossAttention"] = (
        _model([target, source], layers.MultiHeadCrossAttention(4)(target, source)),
        _inputs(8, (5, 16), (7, 16)),
    )
    x = keras.Input((6, 16))
    zoo["TransformerBlock"] = (
        _model(x, layers.TransformerBlock(4, intermediate_dim=32, dropout=0.1, drop_path=0.1)(x)),
        _inputs(9, (6, 16)),
    )
    target, source = keras.Input((5, 16)), keras.Input((7, 16))
    zoo["TransformerDecoderBlock"] = (
        _model([target, source], layers.TransformerDecoderBlock(4, intermediate_dim=32)(target, source)),
        _inputs(10, (5, 16), (7, 16)),
    )
    x = keras.Input((4, 8))
    zoo["DropPath"] = (_model(x, layers.DropPath(0.3)(keras.layers.Dense(8)(x))), _inputs(11, (4, 8)))
    x = keras.Input((5, 8))
    zoo["TokenPooling"] = (_model(x, layers.TokenPooling("cls")(x)), _inputs(12, (5, 8)))

    x = keras.Input((6, 5, 2))
    zoo["RandomShift"] = (_model(x, layers.RandomShift(2, seed=4)(x)), _inputs(16, (6, 5, 2)))

    x, noise = keras.Input((8, 16)), keras.Input((8,))
    zoo["RandomPatchMasking"] = (
        _model([x, noise], layers.RandomPatchMasking(0.5)(x, noise=noise)[0]),
        _inputs(17, (8, 16), (8,)),
    )
    encoded, kept = keras.Input((4, 12)), keras.Input((4,), dtype="int32")
    decoder = MAEDecoder(patch_values=6, grid_size=(3, 3), hidden_dim=8, num_layers=1, num_heads=2)
    zoo["MAEDecoder"] = (
        _model([encoded, kept], decoder(encoded, kept)),
        [*_inputs(18, (4, 12)), np.array([[0, 2, 4, 8], [1, 3, 5, 7]], dtype="int32")],
    )

    zoo["vit"] = (
        vit(
            image_size=16,
            patch_size=4,
            num_classes=5,
            hidden_dim=16,
            num_layers=2,
            num_heads=2,
            intermediate_dim=32,
            channels=1,
        ),
        _inputs(13, (16, 16, 1)),
    )
    zoo["vit-gap-sincos2d"] = (
        vit(
            image_size=(8, 16),
            patch_size=(4, 8),
            num_classes=3,
            hidden_dim=16,
            num_layers=2,
            num_heads=4,
            intermediate_dim=32,
            pooling="gap",
            position="sincos2d",
            drop_path=0.2,
        ),
        _inputs(14, (8, 16, 3)),
    )
    zoo["vit-distillation"] = (
        vit(
            image_size=16,
            patch_size=4,
            num_classes=5,
            hidden_dim=16,
            num_layers=1,
            num_heads=2,
            intermediate_dim=32,
            channels=1,
            distillation=True,
            position="sincos2d",
        ),
        _inputs(15, (16, 16, 1)),
    )
    zoo["vit-conv-stem"] = (  # the hybrid: 16x16 -> 8x8 -> 4x4 feature map, 2x2 patches of it
        vit(
            image_size=16,
            patch_size=2,
            num_classes=3,
            hidden_dim=16,
            num_layers=1,
            num_heads=2,
            intermediate_dim=32,
            conv_stem=(4, 8),
            pooling="gap",
        ),
        _inputs(16, (16, 16, 3)),
    )
    return zoo


def predict(model, inputs):
    """Inference-mode outputs as NumPy."""
    outputs = model(inputs if len(inputs) > 1 else inputs[0], training=False)
    if isinstance(outputs, (list, tuple)):  # several heads: compare them all
        return np.stack([keras.ops.convert_to_numpy(output) for output in outputs])
    return keras.ops.convert_to_numpy(outputs)
