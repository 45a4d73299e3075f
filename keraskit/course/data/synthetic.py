"""Synthetic teaching datasets: generated from a seed, no files, the same on every machine."""

import numpy as np

SHAPE_NAMES = ("circle", "square", "triangle", "cross")


def synthetic_shapes(n, image_size=32, channels=3, seed=0, noise=0.05):
    """A labelled image dataset of four shapes: circle, square, triangle, cross.

    Each image shows one shape of random size, position and colour on a
    random dark background, plus Gaussian noise. Telling the shapes apart
    needs their outline, not their colour or position, which makes it a small
    but honest test of a vision model; a ViT learns it in a minute on a CPU.

    Args:
        n: number of images.
        image_size: height and width in pixels.
        channels: 3 for colour, 1 for grey.
        seed: seed of the generator; the same seed gives the same data.
        noise: standard deviation of the pixel noise.

    Returns:
        `(images, labels)`: float32 `(n, image_size, image_size, channels)` in
        [0, 1], and int32 `(n,)` indices into `SHAPE_NAMES`.

    Example:

    >>> images, labels = synthetic_shapes(8, image_size=16)
    >>> images.shape, labels.shape, images.dtype.name
    ((8, 16, 16, 3), (8,), 'float32')
    """
    if n < 1 or image_size < 8 or channels not in (1, 3):
        raise ValueError(
            "synthetic_shapes needs n >= 1, image_size >= 8 and channels in (1, 3). "
            f"Received: n={n}, image_size={image_size}, channels={channels}"
        )
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(SHAPE_NAMES), size=n).astype("int32")
    size = float(image_size)
    center_x = rng.uniform(0.35, 0.65, n)[:, None, None] * size
    center_y = rng.uniform(0.35, 0.65, n)[:, None, None] * size
    radius = rng.uniform(0.18, 0.3, n)[:, None, None] * size
    pixels = np.arange(image_size) + 0.5
    dx = pixels[None, None, :] - center_x  # (n, 1, W)
    dy = pixels[None, :, None] - center_y  # (n, H, 1)
    bar = radius / 3.5
    masks = {
        "circle": dx**2 + dy**2 <= radius**2,
        "square": np.maximum(np.abs(dx), np.abs(dy)) <= 0.8 * radius,
        # Apex at the top, base 0.8 radius below the centre.
        "triangle": (dy <= 0.8 * radius) & (np.abs(dx) <= (dy + radius) / 1.8),
        "cross": ((np.abs(dx) <= bar) & (np.abs(dy) <= radius))
        | ((np.abs(dy) <= bar) & (np.abs(dx) <= radius)),
    }
    shape = np.zeros((n, image_size, image_size), dtype=bool)
    for index, name in enumerate(SHAPE_NAMES):
        chosen = labels == index
        shape[chosen] = np.broadcast_to(masks[name], shape.shape)[chosen]
    background = rng.uniform(0.0, 0.3, (n, 1, 1, channels))
    foreground = rng.uniform(0.6, 1.0, (n, 1, 1, channels))
    images = np.where(shape[..., None], foreground, background)
    images = images + rng.normal(0.0, noise, images.shape)
    return np.clip(images, 0.0, 1.0).astype("float32"), labels
