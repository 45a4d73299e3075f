"""Independent NumPy references: the papers' formulas, written without Keras.

Tests compare keraskit's layers against these on random inputs.
"""

import math

import numpy as np
from scipy.special import erf


def softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def gelu(x):
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def layer_norm(x, gamma, beta, epsilon):
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


def sinusoidal(length, dim, start=0, max_wavelength=10000.0):
    """Vaswani et al. 2017, section 3.5, one entry at a time."""
    table = np.zeros((length, dim))
    for pos in range(length):
        for j in range(dim):
            i = j // 2
            angle = (pos + start) / max_wavelength ** (2 * i / dim)
            table[pos, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    return table


def sincos_2d(rows, columns, dim, max_wavelength=10000.0):
    """MAE's 2D sin-cos: [sin(row w), cos(row w), sin(col w), cos(col w)]."""
    quarter = dim // 4
    omega = 1.0 / max_wavelength ** (np.arange(quarter) / quarter)
    out = []
    for r in range(rows):
        for c in range(columns):
            out.append(
                np.concatenate([np.sin(r * omega), np.cos(r * omega), np.sin(c * omega), np.cos(c * omega)])
            )
    return np.array(out)


def patches(images, ph, pw):
    """Row-major patches, each flattened row by row with channels innermost."""
    b, h, w, c = images.shape
    out = []
    for n in range(b):
        seq = []
        for r in range(0, h, ph):
            for col in range(0, w, pw):
                seq.append(images[n, r : r + ph, col : col + pw, :].reshape(-1))
        out.append(seq)
    return np.array(out)


def bicubic_resize(grid, out_rows, out_columns, a=-0.75):
    """Bicubic resize of (rows, columns, D), point by point: Keys' kernel with a=-0.75 (PyTorch's),
    half-pixel centres, edge pixels repeated beyond the border."""

    def kernel(x):
        x = abs(x)
        if x <= 1:
            return (a + 2) * x**3 - (a + 3) * x**2 + 1
        if x < 2:
            return a * x**3 - 5 * a * x**2 + 8 * a * x - 4 * a
        return 0.0

    rows, columns, _ = grid.shape
    out = np.zeros((out_rows, out_columns, grid.shape[2]))
    for i in range(out_rows):
        y = (i + 0.5) * rows / out_rows - 0.5
        for j in range(out_columns):
            x = (j + 0.5) * columns / out_columns - 0.5
            for r in range(int(np.floor(y)) - 1, int(np.floor(y)) + 3):
                for c in range(int(np.floor(x)) - 1, int(np.floor(x)) + 3):
                    weight = kernel(y - r) * kernel(x - c)
                    out[i, j] += weight * grid[min(max(r, 0), rows - 1), min(max(c, 0), columns - 1)]
    return out


def multi_head_attention(x, context, wq, bq, wk, bk, wv, bv, wo, bo, num_heads, mask=None):
    """softmax(Q K^T / sqrt(d)) V per head, heads concatenated, then projected.

    mask: bool (B, T, S) or None; True = may attend.
    Returns outputs (B, T, D) and weights (B, N, T, S).
    """

    def split(t):  # (B, L, N*H) -> (B, N, L, H)
        b, length, width = t.shape
        return t.reshape(b, length, num_heads, width // num_heads).transpose(0, 2, 1, 3)

    q, k, v = split(x @ wq + bq), split(context @ wk + bk), split(context @ wv + bv)
    logits = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1])
    if mask is not None:
        logits = np.where(mask[:, None], logits, -np.inf)
    weights = softmax(logits)
    heads = weights @ v  # (B, N, T, H)
    b, n, t, h = heads.shape
    concatenated = heads.transpose(0, 2, 1, 3).reshape(b, t, n * h)
    return concatenated @ wo + bo, weights


def transformer_block(x, w, num_heads, norm_first, epsilon, mask=None):
    """A Transformer encoder block; w holds NumPy weights by name."""

    def attention(h):
        return multi_head_attention(
            h, h, w["wq"], w["bq"], w["wk"], w["bk"], w["wv"], w["bv"], w["wo"], w["bo"], num_heads, mask
        )[0]

    def mlp(h):
        return gelu(h @ w["w1"] + w["b1"]) @ w["w2"] + w["b2"]

    def norm1(h):
        return layer_norm(h, w["g1"], w["beta1"], epsilon)

    def norm2(h):
        return layer_norm(h, w["g2"], w["beta2"], epsilon)

    if norm_first:
        x = x + attention(norm1(x))
        return x + mlp(norm2(x))
    x = norm1(x + attention(x))
    return norm2(x + mlp(x))
