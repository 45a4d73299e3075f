"""keraskit layers' weights as the flat NumPy matrices tests/reference.py takes."""

from conftest import to_numpy


def attention_weights(layer):
    """wq, bq, wk, bk, wv, bv as (D, N*H) / (N*H,), wo as (N*H, D), bo: one head after another."""
    weights = {}
    for name, dense in (("q", layer.query_dense), ("k", layer.key_dense), ("v", layer.value_dense)):
        kernel, bias = (to_numpy(w) for w in dense.weights)  # (D, N, H), (N, H)
        weights[f"w{name}"], weights[f"b{name}"] = kernel.reshape(kernel.shape[0], -1), bias.reshape(-1)
    kernel, bias = (to_numpy(w) for w in layer.output_dense.weights)  # (N, H, D), (D,)
    weights["wo"], weights["bo"] = kernel.reshape(-1, kernel.shape[-1]), bias
    return weights
