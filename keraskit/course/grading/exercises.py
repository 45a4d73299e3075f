"""The graded tasks of every exercise notebook: inputs, references and hints.

References are NumPy versions of each lesson's formulas (or keraskit's own
functions); learners never see them, only the messages a failing case gives.
"""

import numpy as np

from keraskit.course.grading.tasks import Case, define


def _softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def _normal(rng, *shape):
    return rng.normal(size=shape).astype("float32")


# --- 01 word embeddings -------------------------------------------------------------------

def _cosine_reference(a, b):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return a @ b.T


define("01", "cosine_similarity", 2,
       lambda rng: [Case((_normal(rng, 3, 5), _normal(rng, 4, 5)), "3 queries vs 4 vectors of size 5"),
                    Case((_normal(rng, 1, 16), _normal(rng, 7, 16) * 100),
                         "vectors of very different lengths"),
                    Case((_normal(rng, 2, 3), _normal(rng, 2, 3)), "2 vs 2 vectors of size 3")],
       _cosine_reference,
       "cos(a, b) = a.b / (|a| |b|): divide each row by its length (norm over the last axis), then "
       "take every dot product with one matrix product, queries @ vectors.T.")


def _neighbours_reference(query, vectors, k):
    scores = _cosine_reference(query[None], vectors)[0]
    return np.argsort(-scores, kind="stable")[:k]


define("01", "nearest_neighbours", 2,
       lambda rng: [Case((_normal(rng, 8), _normal(rng, 30, 8), 3), "k=3 among 30 vectors"),
                    Case((_normal(rng, 4), _normal(rng, 10, 4) * rng.uniform(0.1, 10, (10, 1)), 5),
                         "k=5, vectors of different lengths (cosine ignores length)")],
       _neighbours_reference,
       "rank by cosine similarity, not by dot product or distance, highest first; return the k "
       "indices (e.g. np.argsort(-scores)[:k]).", exact=True)


# --- 02 positional encoding ---------------------------------------------------------------

def _sinusoidal_reference(length, dim):
    positions = np.arange(length)[:, None]
    frequencies = 1.0 / 10000.0 ** (np.arange(0, dim, 2) / dim)
    angles = positions * frequencies[None]  # (length, dim/2)
    encoding = np.zeros((length, dim))
    encoding[:, 0::2], encoding[:, 1::2] = np.sin(angles), np.cos(angles)
    return encoding


define("02", "sinusoidal_encoding", 3,
       lambda rng: [Case((int(rng.integers(3, 20)), 2 * int(rng.integers(2, 17))),
                         "a random length and even dim"),
                    Case((1, 4), "length 1 (position 0: sin 0 = 0, cos 0 = 1)"),
                    Case((50, 128), "length 50, dim 128")],
       _sinusoidal_reference,
       "PE[pos, 2i] = sin(pos / 10000^(2i/dim)) and PE[pos, 2i+1] = cos(same angle): even columns "
       "sine, odd columns cosine, the pair i sharing one frequency.")


# --- 03 attention -------------------------------------------------------------------------

def _attention_reference(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
        scores = np.where(mask.any(-1, keepdims=True), scores, 0.0)  # fully masked: uniform
    return _softmax(scores) @ v


def _attention_cases(rng):
    b, tq, tk, d = 2, 4, 5, 8
    q, k, v = _normal(rng, b, tq, d), _normal(rng, b, tk, d), _normal(rng, b, tk, 6)
    padding = np.ones((b, tq, tk), bool)
    padding[0, :, 3:] = False
    fully = padding.copy()
    fully[1, 2, :] = False
    causal = np.tril(np.ones((tq, tq), bool))[None].repeat(b, 0)
    q2 = _normal(rng, b, tq, d) * 4
    return [Case((q, k, v), "no mask"),
            Case((q, k, v), "padding mask (last 2 keys of example 0 hidden)", {"mask": padding}),
            Case((q2, q2, _normal(rng, b, tq, 6)), "causal mask", {"mask": causal}),
            Case((q, k, v), "a fully masked row (query 2 of example 1 sees no key)", {"mask": fully})]


define("03", "scaled_dot_product_attention", 4, _attention_cases, _attention_reference,
       "softmax(Q K^T / sqrt(d_k)) V, softmax over the keys (last axis). Masked scores become a "
       "large negative number before the softmax; a row whose every key is masked attends to all "
       "keys equally (give it scores of 0) instead of producing NaN.", rtol=1e-4, atol=1e-5)

define("03", "causal_mask", 1,
       lambda rng: [Case((int(rng.integers(2, 9)),), "a random length"), Case((1,), "length 1")],
       lambda length: np.tril(np.ones((length, length), bool)),
       "row t may look at columns 0..t: True on and below the diagonal (np.tril).", exact=True)


# --- 04 multi-head attention ---------------------------------------------------------------

define("04", "split_heads", 2,
       lambda rng: [Case((_normal(rng, 2, 5, 12), 3), "(2, 5, 12) into 3 heads"),
                    Case((_normal(rng, 1, 7, 8), 8), "8 heads of width 1")],
       lambda x, num_heads: x.reshape(x.shape[0], x.shape[1], num_heads, -1).transpose(0, 2, 1, 3),
       "(B, T, D) -> reshape to (B, T, H, D/H) -> transpose to (B, H, T, D/H): head h gets "
       "channels h*D/H ... (h+1)*D/H - 1 of every token.")

define("04", "merge_heads", 2,
       lambda rng: [Case((_normal(rng, 2, 3, 5, 4),), "(2, 3 heads, 5 tokens, 4)"),
                    Case((_normal(rng, 1, 1, 6, 9),), "one head")],
       lambda x: x.transpose(0, 2, 1, 3).reshape(x.shape[0], x.shape[2], -1),
       "the inverse of split_heads: transpose (B, H, T, d) to (B, T, H, d), then reshape to (B, T, H*d).")


# --- 05 the Transformer block --------------------------------------------------------------

def _layer_norm_reference(x, gamma, beta, epsilon=1e-6):
    mean = x.mean(-1, keepdims=True)
    variance = x.var(-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + epsilon) * gamma + beta


define("05", "layer_norm", 2,
       lambda rng: [Case((_normal(rng, 2, 3, 8) * 5 + 3, _normal(rng, 8), _normal(rng, 8)),
                         "(2, 3, 8) tokens"),
                    Case((_normal(rng, 4, 16), np.ones(16, "float32"), np.zeros(16, "float32")),
                         "gamma 1, beta 0: every token gets mean 0 and variance 1")],
       _layer_norm_reference,
       "normalise each token over its features (the last axis): subtract the mean, divide by "
       "sqrt(variance + epsilon) with the biased variance (mean of squares), then * gamma + beta.",
       rtol=1e-3, atol=1e-4)


# --- 06 text classification ----------------------------------------------------------------

def _masked_mean_reference(x, mask):
    weights = mask.astype(x.dtype)[..., None]
    return (x * weights).sum(1) / np.maximum(weights.sum(1), 1.0)


def _masked_mean_cases(rng):
    mask = np.ones((3, 6), bool)
    mask[0, 4:] = False
    mask[2, :] = False  # a fully padded row
    return [Case((_normal(rng, 3, 6, 4), mask), "padding, and one fully padded row (answer: zeros)"),
            Case((_normal(rng, 2, 5, 3), np.ones((2, 5), bool)), "no padding: the plain mean")]


define("06", "masked_mean", 2, _masked_mean_cases, _masked_mean_reference,
       "sum the real tokens only (multiply by the mask) and divide by how many there are; divide by "
       "at least 1 so a fully padded row gives 0, not NaN.")


# --- 08 patches ----------------------------------------------------------------------------

def _patchify_reference(images, patch_size):
    b, h, w, c = images.shape
    p = patch_size
    x = images.reshape(b, h // p, p, w // p, p, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, (h // p) * (w // p), p * p * c)


define("08", "patchify", 3,
       lambda rng: [Case((_normal(rng, 2, 8, 12, 3), 4), "(2, 8, 12, 3) images, 4x4 patches"),
                    Case((_normal(rng, 1, 6, 6, 1), 2), "grey 6x6, 2x2 patches")],
       _patchify_reference,
       "reshape (B, H, W, C) to (B, H/p, p, W/p, p, C), move the two grid axes first "
       "(B, H/p, W/p, p, p, C), then flatten: patches in reading order, each patch row by row.")


def _unpatchify_reference(patches, image_size, patch_size):
    b = patches.shape[0]
    h, w = image_size
    p = patch_size
    c = patches.shape[-1] // (p * p)
    x = patches.reshape(b, h // p, w // p, p, p, c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, c)


define("08", "unpatchify", 2,
       lambda rng: [Case((_normal(rng, 2, 6, 48), (8, 12), 4), "6 patches of 4x4x3 into 8x12 images"),
                    Case((_normal(rng, 1, 9, 4), (6, 6), 2), "9 grey 2x2 patches into 6x6")],
       _unpatchify_reference,
       "undo patchify step by step in reverse: reshape to (B, H/p, W/p, p, p, C), swap the middle "
       "axes back to (B, H/p, p, W/p, p, C), reshape to (B, H, W, C).")


# --- 10 distillation -----------------------------------------------------------------------

def _cross_entropy(logits, labels):
    logits = logits - logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels].mean()


def _distillation_reference(class_logits, distillation_logits, labels, teacher_logits):
    return 0.5 * _cross_entropy(class_logits, labels) + 0.5 * _cross_entropy(
        distillation_logits, teacher_logits.argmax(-1))


define("10", "hard_distillation_loss", 3,
       lambda rng: [Case((_normal(rng, 6, 4), _normal(rng, 6, 4), rng.integers(0, 4, 6), _normal(rng, 6, 4)),
                         "6 examples, 4 classes"),
                    Case((_normal(rng, 3, 10) * 5, _normal(rng, 3, 10), rng.integers(0, 10, 3),
                          _normal(rng, 3, 10)), "large logits (use a stable log-softmax)")],
       _distillation_reference,
       "1/2 CE(class logits, true labels) + 1/2 CE(distillation logits, argmax of the teacher's "
       "logits): hard labels from the teacher, mean over the batch, cross-entropy from logits.",
       rtol=1e-4, atol=1e-5)


# --- 11 training recipe --------------------------------------------------------------------

def _warmup_cosine_reference(step, peak, total, warmup):
    step = np.asarray(step, dtype="float64")
    progress = np.clip((step - warmup) / (total - warmup), 0.0, 1.0)
    return np.where(step < warmup, peak * step / warmup, peak * 0.5 * (1 + np.cos(np.pi * progress)))


define("11", "warmup_cosine", 3,
       lambda rng: [Case((np.arange(0, 101), 1e-3, 100, 10), "steps 0..100, peak 1e-3, warmup 10"),
                    Case((rng.integers(0, 5000, 20), 3e-4, 5000, int(rng.integers(1, 500))),
                         "random steps, random warmup")],
       _warmup_cosine_reference,
       "linear from 0 to peak over the warmup steps (peak * step / warmup), then "
       "peak * (1 + cos(pi * t)) / 2 with t = (step - warmup) / (total - warmup).", rtol=1e-4, atol=1e-9)

define("11", "mfu", 1,
       lambda rng: [Case((3000.0, 52.7e9, 989e12), "ViT-B/16 at 3,000 images/s on an H100"),
                    Case((float(rng.uniform(10, 1e4)), float(rng.uniform(1e8, 1e11)), 312e12),
                         "random figures")],
       lambda images_per_second, flops_per_image, peak: images_per_second * flops_per_image / peak,
       "model FLOPs utilization = images/s x training FLOPs per image / the device's peak FLOP/s.",
       rtol=1e-6, atol=0)


# --- 07 the decoder ------------------------------------------------------------------------

define("07", "teacher_forcing_inputs", 2,
       lambda rng: [Case((rng.integers(3, 20, (3, 6)), 1), "3 targets of 6 tokens, start id 1"),
                    Case((rng.integers(3, 20, (1, 1)), 2), "a single token, start id 2")],
       lambda targets, start_id: np.concatenate(
           [np.full((targets.shape[0], 1), start_id, targets.dtype), targets[:, :-1]], axis=1),
       "the decoder reads the target shifted right by one: the start id first, then every target "
       "token but the last (same shape as the targets).", exact=True)


def _greedy_reference(transition, start_id, end_id, max_length):
    tokens, last = [], start_id
    for _ in range(max_length):
        last = int(np.argmax(transition[last]))
        tokens.append(last)
        if last == end_id:
            break
    return np.array(tokens, dtype="int64")


def _greedy_cases(rng):
    table = _normal(rng, 8, 8)
    chain = _normal(rng, 6, 6) - 10
    for token, following in ((0, 3), (3, 4), (4, 2), (2, 5)):
        chain[token, following] = 10  # 0 -> 3 -> 4 -> 2 -> 5 (the end)
    loop = np.zeros((4, 4), "float32")
    loop[0, 2] = loop[2, 1] = loop[1, 2] = 1.0  # 0 -> 2 -> 1 -> 2 -> ... never ends
    return [Case((chain, 0, 5, 10), "a chain that reaches the end token after 4 steps"),
            Case((loop, 0, 3, 7), "a loop that never reaches the end: stop at max_length"),
            Case((table, 0, 7, 12), "a random bigram table")]


define("07", "greedy_decode", 3, _greedy_cases, _greedy_reference,
       "start from start_id; at each step take the argmax of the logits for the last token, append "
       "it, and stop after appending end_id or after max_length tokens. Return the generated ids "
       "(not the start id).", exact=True)


# --- 09 the Vision Transformer ---------------------------------------------------------------

def _encode_patches_reference(patches, kernel, bias, class_token, positions):
    tokens = patches @ kernel + bias  # (B, N, D)
    cls = np.broadcast_to(class_token, (tokens.shape[0], 1, tokens.shape[-1]))
    return np.concatenate([cls, tokens], axis=1) + positions[None]


def _encode_patches_cases(rng):
    b, n, p, d = 2, 9, 12, 8
    return [Case((_normal(rng, b, n, p), _normal(rng, p, d), _normal(rng, d), _normal(rng, d),
                  _normal(rng, n + 1, d)), "2 images, 9 patches of 12 values, width 8"),
            Case((_normal(rng, 3, 4, 5), _normal(rng, 5, 6), np.zeros(6, "float32"), _normal(rng, 6),
                  np.zeros((5, 6), "float32")), "no bias, zero positions: the class token must lead")]


define("09", "encode_patches", 3, _encode_patches_cases, _encode_patches_reference,
       "project each patch (patches @ kernel + bias), put the class token in front of every "
       "image's tokens (N -> N + 1), then add the positions, one row per token, class token first.")


# --- 10 rollout ------------------------------------------------------------------------------

def _rollout_reference(maps):
    tokens = maps.shape[-1]
    joint = np.eye(tokens)
    for weights in maps:  # (B, H, N, N) per block
        a = 0.5 * weights.mean(axis=1) + 0.5 * np.eye(tokens)
        a = a / a.sum(-1, keepdims=True)
        joint = a @ joint
    flow = joint[:, 0, 1:]
    return flow / flow.sum(-1, keepdims=True)


def _rollout_cases(rng):
    def maps(blocks, batch, heads, tokens):
        return _softmax(_normal(rng, blocks, batch, heads, tokens, tokens) * 2)
    return [Case((maps(3, 2, 4, 5),), "3 blocks, 2 images, 4 heads, class token + 4 patches"),
            Case((maps(1, 1, 1, 3),), "one block, one head")]


define("10", "attention_rollout", 3, _rollout_cases, _rollout_reference,
       "for each block in order: average the heads, add the residual (0.5 A + 0.5 I), renormalise "
       "the rows, multiply onto the running product (A_block @ joint). Return the class token's row "
       "without its own column, normalised to sum to 1.", rtol=1e-4, atol=1e-6)


# --- third and further tasks per lesson ------------------------------------------------------

define("01", "one_hot", 1,
       lambda rng: [Case((rng.integers(0, 7, 5), 7), "5 ids, vocabulary of 7"),
                    Case((np.array([0]), 1), "one id, vocabulary of 1")],
       lambda ids, vocabulary_size: np.eye(vocabulary_size)[ids],
       "row i is all zeros except a 1 in column ids[i]; shape (len(ids), vocabulary_size).")

define("01", "embedding_lookup", 1,
       lambda rng: [Case((rng.integers(0, 10, (2, 4)), _normal(rng, 10, 3)), "a (2, 4) batch of ids"),
                    Case((np.array([3, 3]), _normal(rng, 5, 2)), "the same id twice")],
       lambda ids, table: table[ids],
       "an Embedding layer is a table lookup: row ids[...] of the table, so (B, T) ids -> (B, T, D).")


def _sincos_2d_reference(rows, columns, dim):
    from keras import ops

    from keraskit.layers import sincos_2d_encoding
    return ops.convert_to_numpy(sincos_2d_encoding((rows, columns), dim))


define("02", "sincos_2d_encoding", 2,
       lambda rng: [Case((3, 4, 8), "a 3x4 grid, dim 8"), Case((2, 2, 16), "a 2x2 grid, dim 16")],
       _sincos_2d_reference,
       "half the channels encode the row, half the column, each with the 1D sinusoidal encoding of "
       "dim/2 channels (sines in the first half of each, cosines in the second); the patch at "
       "(r, c) is number r * columns + c. Compare with keraskit.layers.sincos_2d_encoding's docstring.",
       rtol=1e-4, atol=1e-5)

define("02", "position_similarity", 2,
       lambda rng: [Case((_normal(rng, 6, 8),), "6 positions of width 8"),
                    Case((_normal(rng, 3, 2) * 10,), "long vectors: cosine ignores length")],
       lambda encoding: _cosine_reference(encoding, encoding),
       "the cosine similarity of every position's vector with every other: an (N, N) matrix with "
       "ones on the diagonal.")

define("03", "attention_weights", 2,
       lambda rng: [Case((_normal(rng, 2, 3, 4), _normal(rng, 2, 5, 4)),
                         "2 examples, 3 queries, 5 keys, d=4"),
                    Case((_normal(rng, 1, 2, 16) * 3, _normal(rng, 1, 2, 16) * 3), "larger scores")],
       lambda q, k: _softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])),
       "softmax(Q K^T / sqrt(d_k)) over the keys: shape (B, queries, keys), every row sums to 1.")


def _mha_reference(x, wq, wk, wv, wo, num_heads):
    b, t, d = x.shape

    def split(y):
        return y.reshape(b, t, num_heads, -1).transpose(0, 2, 1, 3)

    q, k, v = split(x @ wq), split(x @ wk), split(x @ wv)
    weights = _softmax(q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1]))
    heads = (weights @ v).transpose(0, 2, 1, 3).reshape(b, t, -1)
    return heads @ wo


define("04", "multi_head_attention", 3,
       lambda rng: [Case((_normal(rng, 2, 5, 8), *(_normal(rng, 8, 8) / 3 for _ in range(4)), 2),
                         "(2, 5, 8) tokens, 2 heads"),
                    Case((_normal(rng, 1, 3, 12), *(_normal(rng, 12, 12) / 3 for _ in range(4)), 4),
                         "4 heads of width 3")],
       _mha_reference,
       "project x with wq, wk, wv (no biases), split_heads each, scaled dot-product attention per "
       "head, merge_heads, then project with wo.", rtol=1e-3, atol=1e-4)


def _gelu(x):
    import math
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / np.sqrt(2)))


define("05", "mlp", 2,
       lambda rng: [Case((_normal(rng, 2, 3, 4), _normal(rng, 4, 8), _normal(rng, 8), _normal(rng, 8, 4),
                          _normal(rng, 4)), "width 4, hidden 8")],
       lambda x, w1, b1, w2, b2: _gelu(x @ w1 + b1) @ w2 + b2,
       "Dense -> GELU -> Dense on each token: gelu(x @ w1 + b1) @ w2 + b2, with the exact GELU "
       "x * Phi(x) (keras.activations.gelu(..., approximate=False)).", rtol=1e-3, atol=1e-4)

define("05", "pre_norm_residual", 2,
       lambda rng: [Case((_normal(rng, 2, 3, 6) * 2 + 1, _normal(rng, 6), _normal(rng, 6), _normal(rng, 6, 6),
                          _normal(rng, 6)), "(2, 3, 6) tokens")],
       lambda x, gamma, beta, w, b: x + _layer_norm_reference(x, gamma, beta) @ w + b,
       "pre-norm: normalise first, then the sub-layer (here a linear map, @ w + b), then add the "
       "untouched input: x + sublayer(layer_norm(x)). LayerNorm epsilon 1e-6.", rtol=1e-3, atol=1e-4)

define("06", "padding_mask", 1,
       lambda rng: [Case((np.where(rng.random((3, 6)) < 0.3, 0, rng.integers(1, 50, (3, 6))),),
                         "ids with 0 as padding")],
       lambda ids: ids != 0,
       "True for real tokens, False where the id is 0 (padding).", exact=True)

define("06", "attention_padding_mask", 2,
       lambda rng: [Case((rng.random((2, 5)) < 0.7,), "2 examples of 5 tokens")],
       lambda mask: mask[:, None, :] & mask[:, :, None],
       "(B, T) -> (B, T, T): query i may look at key j only when both are real tokens "
       "(mask[:, None, :] & mask[:, :, None]).", exact=True)

define("07", "causal_padding_mask", 2,
       lambda rng: [Case((np.array([[5, 7, 9, 0, 0], [3, 4, 0, 0, 0]]),), "two padded target sequences"),
                    Case((rng.integers(1, 9, (1, 4)),), "no padding: just causal")],
       lambda ids: np.tril(np.ones((ids.shape[1],) * 2, bool))[None] & (ids != 0)[:, None, :],
       "(B, T) ids -> (B, T, T): key j visible to query i when j <= i and ids[j] is not padding (0).",
       exact=True)

define("08", "patch_counts", 1,
       lambda rng: [Case(((224, 224), 16, 3), "224x224 RGB, 16x16 patches"),
                    Case(((28, 28), 7, 1), "28x28 grey, 7x7 patches"),
                    Case(((32, 48), 8, 3), "32x48, 8x8 patches")],
       lambda image_size, patch_size, channels: np.array(
           [(image_size[0] // patch_size) * (image_size[1] // patch_size),
            patch_size * patch_size * channels]),
       "return [number of patches, values per patch]: (H/p)(W/p) and p*p*C.", exact=True)


def _vit_parameters_reference(patch_values, num_patches, dim, depth, mlp_dim, num_classes):
    block = (4 * dim * dim + 4 * dim) + (2 * dim * mlp_dim + mlp_dim + dim) + 4 * dim
    return np.array(patch_values * dim + dim + dim + (num_patches + 1) * dim + depth * block
                    + 2 * dim + dim * num_classes + num_classes)


define("09", "count_vit_parameters", 2,
       lambda rng: [Case((768, 196, 768, 12, 3072, 1000), "ViT-B/16 (86,567,656)"),
                    Case((49, 16, 64, 4, 128, 10), "the lesson's small ViT")],
       _vit_parameters_reference,
       "patch projection (values x dim + dim), class token (dim), positions ((N + 1) x dim), per block "
       "attention 4 dim^2 + 4 dim, MLP 2 dim mlp + mlp + dim, two LayerNorms 4 dim; final LayerNorm "
       "2 dim; head dim x classes + classes.", exact=True)

define("09", "gap_pool", 1,
       lambda rng: [Case((_normal(rng, 2, 5, 3),), "2 images, 5 tokens")],
       lambda tokens: tokens.mean(axis=1),
       "global average pooling: the mean over the tokens axis, (B, N, D) -> (B, D).")

define("10", "teacher_agreement", 1,
       lambda rng: [Case((_normal(rng, 50, 4), _normal(rng, 50, 4)), "50 predictions, 4 classes")],
       lambda student_logits, teacher_logits: np.mean(student_logits.argmax(-1) == teacher_logits.argmax(-1)),
       "the fraction of examples where the student's and the teacher's argmax agree.")


def _training_flops_reference(tokens, dim, depth, mlp_dim):
    per_block = 4 * tokens * dim * dim + 2 * tokens * tokens * dim + 2 * tokens * dim * mlp_dim
    return np.array(3 * 2 * depth * per_block, dtype="float64")


define("11", "vit_training_flops", 2,
       lambda rng: [Case((197, 768, 12, 3072), "ViT-B/16's blocks"), Case((17, 64, 4, 128), "a small ViT")],
       _training_flops_reference,
       "multiply-adds per block: 4 T D^2 (q, k, v, output projections) + 2 T^2 D (scores and "
       "weighted sum) + 2 T D M (MLP); x2 FLOPs per multiply-add; x3 for training; x depth.",
       rtol=1e-9, atol=0)
