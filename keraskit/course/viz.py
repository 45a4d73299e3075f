"""The course's pictures: patches, position embeddings, attention, learning curves, errors.

Every function takes NumPy arrays (or anything `np.asarray` accepts, e.g. the
output of `keras.ops.convert_to_numpy`) and returns a `matplotlib.figure.Figure`,
so a notebook shows it and a script can `fig.savefig(...)` it.
"""

import numpy as np

from keraskit.extras import require
from keraskit.validation import to_pair

# matplotlib comes with the `course` extra, not with the library: say so if it is missing.
plt = require("matplotlib.pyplot", "course", "keraskit.course.viz draws its figures")


def _image_for_display(image):
    """`(H, W)` or `(H, W, C)` -> something `imshow` draws: grey stays 2D, values in [0, 1]."""
    integer_pixels = np.issubdtype(np.asarray(image).dtype, np.integer)
    image = np.asarray(image, dtype="float32")
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3):
        raise ValueError(f"Expected an image (height, width[, channels]). Received shape {image.shape}")
    if integer_pixels or image.max() > 2.0:
        image = image / 255.0  # 0..255 pixels; floats a little over 1 (after a resize) are clipped
    return np.clip(image, 0.0, 1.0)


def _show(ax, image):
    image = _image_for_display(image)
    ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_patches(image, patch_size, max_sequence=None):
    """The image cut into a grid of patches, and the same patches as a sequence.

    Left: the image with the patch grid drawn on it. Right: the patches pulled
    apart, with their index in reading order (row by row), which is the
    order of the tokens the Transformer reads.

    Args:
        image: `(height, width[, channels])`, pixels in [0, 1] or 0..255.
        patch_size: int or `(patch_height, patch_width)`; must divide the image size.
        max_sequence: how many patches of the sequence to label (all by default).

    Returns:
        A matplotlib `Figure`.

    Example:

    >>> import numpy as np
    >>> fig = plot_patches(np.random.rand(32, 32, 3), patch_size=8)
    >>> len(fig.axes)
    17
    """
    image = _image_for_display(image)
    patch_height, patch_width = to_pair(patch_size, "patch_size")
    height, width = image.shape[:2]
    if height % patch_height or width % patch_width:
        raise ValueError(
            f"patch_size {(patch_height, patch_width)} does not divide the image size "
            f"{(height, width)}: {height} % {patch_height} = {height % patch_height}, "
            f"{width} % {patch_width} = {width % patch_width}."
        )
    rows, columns = height // patch_height, width // patch_width
    fig = plt.figure(figsize=(7, 3.5), constrained_layout=True)
    left, right = fig.subfigures(1, 2, width_ratios=[1, 1])
    ax = left.subplots()
    _show(ax, image)
    for row in range(1, rows):
        ax.axhline(row * patch_height - 0.5, color="white", linewidth=1)
    for column in range(1, columns):
        ax.axvline(column * patch_width - 0.5, color="white", linewidth=1)
    ax.set_title(f"{height}x{width} image, {rows}x{columns} patches")
    axes = right.subplots(rows, columns, gridspec_kw=dict(wspace=0.08, hspace=0.08))
    axes = np.asarray(axes).reshape(rows, columns)
    labelled = rows * columns if max_sequence is None else max_sequence
    for index in range(rows * columns):
        row, column = divmod(index, columns)
        patch = image[
            row * patch_height : (row + 1) * patch_height, column * patch_width : (column + 1) * patch_width
        ]
        _show(axes[row, column], patch)
        if index < labelled and rows * columns <= 64:
            axes[row, column].set_title(str(index), fontsize=6, pad=1)
    right.suptitle(f"{rows * columns} patches of {patch_height}x{patch_width}, read row by row")
    return fig


def plot_position_similarity(position_embeddings, grid_size, title=None, vmin=-1.0, vmax=1.0):
    """Cosine similarity of each patch's position embedding to all others (ViT paper, fig. 7).

    Tile `(r, c)` of the figure is a small map over the patch grid: how similar
    the embedding of the patch at row r, column c is to every other patch's.
    Learned embeddings that have discovered the 2D layout light up near their
    own row and column.

    Args:
        position_embeddings: `(rows * columns, dim)`, one vector per patch
            (drop the class token's first, if any).
        grid_size: `(rows, columns)` of the patch grid.
        title: figure title.
        vmin, vmax: the colour scale; narrow it when all similarities are
            high (e.g. `vmin=None` uses the smallest one).

    Returns:
        A matplotlib `Figure`.

    Example:

    >>> import numpy as np
    >>> fig = plot_position_similarity(np.random.rand(16, 8), grid_size=(4, 4))
    >>> len(fig.axes)  # 16 tiles and a colour bar
    17
    """
    rows, columns = to_pair(grid_size, "grid_size")
    embeddings = np.asarray(position_embeddings, dtype="float64")
    if embeddings.ndim != 2 or embeddings.shape[0] != rows * columns:
        raise ValueError(
            f"Expected position_embeddings of shape ({rows * columns}, dim) for a {rows}x{columns} "
            f"grid. Received shape {embeddings.shape}; drop the class token's row first."
        )
    unit = embeddings / np.maximum(np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T  # (N, N)
    vmin = similarity.min() if vmin is None else vmin
    vmax = similarity.max() if vmax is None else vmax
    size = min(7, 0.9 * columns + 1.5)
    fig, axes = plt.subplots(
        rows, columns, figsize=(size, size * rows / columns), constrained_layout=True, squeeze=False
    )
    for index in range(rows * columns):
        ax = axes[index // columns, index % columns]
        image = ax.imshow(similarity[index].reshape(rows, columns), cmap="viridis", vmin=vmin, vmax=vmax)
        ax.set_xticks([])
        ax.set_yticks([])
    for row in range(rows):
        axes[row, 0].set_ylabel(str(row + 1), rotation=0, labelpad=8, fontsize=8)
    for column in range(columns):
        axes[-1, column].set_xlabel(str(column + 1), fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.6, label="cosine similarity")
    # The ViT paper's axis titles (its fig. 7): which tile is which patch.
    fig.supxlabel("input patch column", fontsize=9)
    fig.supylabel("input patch row", fontsize=9)
    fig.suptitle(title or "Position embedding similarity")
    return fig


def _overlay(ax, image, heat, title=None, vmax=None, extent=None):
    """Draws `heat` (one value per patch) over `image`, semi-transparent; returns the heat image.

    Each patch's value fills its patch as one flat block (nearest, not smoothed): the
    model has one number per patch, and a blur would draw detail it does not have.
    `extent` places the grid elsewhere than over the whole image (matplotlib's
    `(left, right, bottom, top)`); what falls outside the image is cut off.
    """
    image = _image_for_display(image)
    _show(ax, image)
    height, width = image.shape[:2]
    whole_image = (-0.5, width - 0.5, height - 0.5, -0.5)
    shown = ax.imshow(
        heat,
        cmap="inferno",
        alpha=0.6,
        extent=whole_image if extent is None else extent,
        interpolation="nearest",
        vmin=0.0,
        vmax=vmax,
    )
    ax.set_xlim(whole_image[0], whole_image[1])
    ax.set_ylim(whole_image[2], whole_image[3])
    if title:
        ax.set_title(title, fontsize=9)
    return shown


def plot_attention_heads(image, attention, grid_size, token=0, title=None, extent=None):
    """Where one token looks, per head, drawn over the image.

    Args:
        image: the input image `(height, width[, channels])`.
        attention: one block's attention weights for this image,
            `(num_heads, N, N)`, e.g. `attention_maps(model, images)[block][i]`.
        grid_size: `(rows, columns)` of the patch grid.
        token: the query token (0: the class token when there is one), or
            None for the attention each patch receives, averaged over all
            queries (for models without a class token).
        title: figure title.
        extent: where the grid of blocks lies, in pixels, as matplotlib's `imshow`
            takes it, `(left, right, bottom, top)`; default: over the whole image,
            one block per patch. Tokens made by a `conv_stem` do not tile the image:
            give each block the place of its token, e.g. 8 pixels per token.

    Returns:
        A matplotlib `Figure` with the image, one panel per head (one flat block per
        patch, all heads on one colour scale) and a colour bar.

    Example:

    >>> import numpy as np
    >>> weights = np.full((2, 17, 17), 1 / 17)
    >>> fig = plot_attention_heads(np.zeros((16, 16)), weights, grid_size=(4, 4))
    >>> len(fig.axes)  # the image, two heads, the colour bar
    4
    """
    attention = np.asarray(attention, dtype="float32")
    rows, columns = to_pair(grid_size, "grid_size")
    if attention.ndim != 3 or attention.shape[1] != attention.shape[2]:
        raise ValueError(f"Expected attention (num_heads, N, N). Received shape {attention.shape}")
    prefix = attention.shape[-1] - rows * columns  # class (and distillation) tokens
    if prefix < 0:
        raise ValueError(
            f"attention has {attention.shape[-1]} tokens, fewer than the "
            f"{rows * columns} patches of a {rows}x{columns} grid."
        )
    num_heads = attention.shape[0]
    fig, axes = plt.subplots(
        1, num_heads + 1, figsize=(min(7, 1.6 * (num_heads + 1)), 2), constrained_layout=True, squeeze=False
    )
    _show(axes[0, 0], image)
    axes[0, 0].set_title("image", fontsize=9)
    received = attention.mean(axis=1) if token is None else attention[:, token]  # (heads, N)
    heats = received[:, prefix:].reshape(num_heads, rows, columns)
    vmax = float(heats.max())  # one scale for all heads, so their panels can be compared
    for head in range(num_heads):
        shown = _overlay(axes[0, head + 1], image, heats[head], f"head {head}", vmax=vmax, extent=extent)
    label = "attention received" if token is None else f"attention from token {token}"
    fig.colorbar(shown, ax=axes, shrink=0.8, label=label)
    if title:
        fig.suptitle(title)
    return fig


def plot_rollout(images, rollouts, labels=None, extent=None):
    """Attention rollout maps over their images: which patches each prediction drew on.

    Args:
        images: `(batch, height, width[, channels])`.
        rollouts: `(batch, rows, columns)`, from `keraskit.models.attention_rollout`.
        labels: optional titles, one per image.
        extent: where the grid lies over each image, as in `plot_attention_heads`.

    Returns:
        A matplotlib `Figure` with two rows, the images and the rollout over them (one
        flat block per patch, one colour scale), and a colour bar.

    Example:

    >>> import numpy as np
    >>> fig = plot_rollout(np.zeros((3, 16, 16)), np.random.rand(3, 4, 4))
    >>> len(fig.axes)  # 3 images, 3 rollouts, the colour bar
    7
    """
    images, rollouts = np.asarray(images), np.asarray(rollouts, dtype="float32")
    if rollouts.ndim != 3 or len(rollouts) != len(images):
        raise ValueError(
            f"Expected rollouts (batch, rows, columns) for {len(images)} images. "
            f"Received shape {rollouts.shape}"
        )
    count = len(images)
    fig, axes = plt.subplots(
        2, count, figsize=(min(7, 1.5 * count), 3.2), constrained_layout=True, squeeze=False
    )
    vmax = float(rollouts.max())  # one scale for all images, so their maps can be compared
    for index in range(count):
        _show(axes[0, index], images[index])
        if labels is not None:
            axes[0, index].set_title(str(labels[index]), fontsize=8)
        shown = _overlay(axes[1, index], images[index], rollouts[index], vmax=vmax, extent=extent)
    fig.colorbar(shown, ax=axes[1, :], shrink=0.8, label="share")
    axes[0, 0].set_ylabel("image")
    axes[1, 0].set_ylabel("rollout")
    return fig


def plot_learning_curves(history, metrics=("loss", "accuracy"), title=None):
    """Training (and validation) curves per epoch, one panel per metric.

    Args:
        history: the `History` returned by `model.fit`, or its `.history` dict.
        metrics: which metrics to draw; `val_` curves are added when present.
        title: figure title.

    Returns:
        A matplotlib `Figure`.

    Example:

    >>> fig = plot_learning_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.7],
    ...                             "accuracy": [0.5, 0.8]})
    >>> len(fig.axes)
    2
    """
    logs = getattr(history, "history", history)
    present = [metric for metric in metrics if metric in logs]
    if not present:
        raise ValueError(f"None of {list(metrics)} is in the history. It has: {sorted(logs)}")
    fig, axes = plt.subplots(1, len(present), figsize=(7, 3), constrained_layout=True, squeeze=False)
    for ax, metric in zip(axes[0], present, strict=True):
        epochs = np.arange(1, len(logs[metric]) + 1)
        ax.plot(epochs, logs[metric], marker="o", markersize=3, label="training")
        if f"val_{metric}" in logs:
            ax.plot(epochs, logs[f"val_{metric}"], marker="o", markersize=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return fig


def plot_confusion_matrix(y_true, y_pred, class_names, title=None):
    """Counts of (true class, predicted class); the diagonal is what the model gets right.

    Args:
        y_true: true labels `(N,)`.
        y_pred: predicted labels `(N,)` (take `argmax` of logits first).
        class_names: one name per class.
        title: figure title; default reports the accuracy.

    Returns:
        A matplotlib `Figure`.

    Example:

    >>> fig = plot_confusion_matrix([0, 1, 1], [0, 1, 0], ["cat", "dog"])
    >>> fig.axes[0].get_title()
    'Confusion matrix (accuracy 66.7%)'
    """
    y_true, y_pred = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred differ in length: {y_true.shape} vs {y_pred.shape}")
    count = len(class_names)
    matrix = np.zeros((count, count), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    fig, ax = plt.subplots(figsize=(6, 5), constrained_layout=True)
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(count), class_names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(count), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for row in range(count):
        for column in range(count):
            value = matrix[row, column]
            if value:
                dark = value > matrix.max() / 2
                ax.text(
                    column,
                    row,
                    str(value),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
    fig.colorbar(image, ax=ax, shrink=0.8, label="images")
    accuracy = np.trace(matrix) / max(matrix.sum(), 1)
    ax.set_title(title or f"Confusion matrix (accuracy {accuracy:.1%})")
    return fig


def plot_images(images, titles=None, columns=8, title=None):
    """A grid of images with a title each (e.g. misclassified examples: "true -> predicted").

    Args:
        images: `(batch, height, width[, channels])`.
        titles: optional list of strings, one per image.
        columns: images per row.
        title: figure title.

    Returns:
        A matplotlib `Figure`.

    Example:

    >>> import numpy as np
    >>> fig = plot_images(np.zeros((10, 8, 8)), columns=5)
    >>> len(fig.axes)
    10
    """
    images = np.asarray(images)
    count = len(images)
    columns = max(1, min(columns, count))
    rows = int(np.ceil(count / columns))
    fig, axes = plt.subplots(
        rows, columns, figsize=(7, 7 / columns * rows * 1.15), constrained_layout=True, squeeze=False
    )
    for index, ax in enumerate(axes.flat):
        if index >= count:
            ax.remove()
            continue
        _show(ax, images[index])
        if titles is not None:
            ax.set_title(str(titles[index]), fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


def plot_reconstructions(images, mask, reconstructed, patch_size, titles=None):
    """A masked autoencoder at work: each image, what its encoder saw, and what it painted back.

    Args:
        images: `(batch, height, width[, channels])`, pixels in [0, 1] (or 0..255).
        mask: `(batch, num_patches)`, 1 where a patch was hidden, in reading order.
        reconstructed: the images with hidden patches replaced by the model's
            guesses (`MaskedAutoencoder.reconstruct`), in the units of `images`.
        patch_size: int or `(patch_height, patch_width)`.
        titles: optional list of strings, one per image.

    Returns:
        A matplotlib `Figure`: three rows (original, visible patches with the
        hidden ones in blue, reconstruction), one column per image.

    Example:

    >>> import numpy as np
    >>> images = np.random.rand(3, 8, 8)
    >>> fig = plot_reconstructions(images, np.eye(3, 4), images, patch_size=4)
    >>> len(fig.axes)
    9
    """
    images, reconstructed = np.asarray(images), np.asarray(reconstructed)
    mask = np.asarray(mask, dtype=bool)
    patch_height, patch_width = to_pair(patch_size, "patch_size")
    height, width = images.shape[1:3]
    columns = width // patch_width
    if reconstructed.shape != images.shape or mask.shape != (len(images), (height // patch_height) * columns):
        raise ValueError(
            f"Expected reconstructed images of shape {images.shape} and a mask of shape "
            f"({len(images)}, {(height // patch_height) * columns}). Received {reconstructed.shape} "
            f"and {mask.shape}."
        )
    count = len(images)
    fig, axes = plt.subplots(
        3, count, figsize=(min(7, 1.2 * count), 3.9), constrained_layout=True, squeeze=False
    )
    for index in range(count):
        _show(axes[0, index], images[index])
        seen = np.ma.masked_array(_image_for_display(images[index]), mask=np.zeros(images.shape[1:3], bool))
        for patch in np.flatnonzero(mask[index]):
            row, column = divmod(patch, columns)
            seen.mask[
                row * patch_height : (row + 1) * patch_height,
                column * patch_width : (column + 1) * patch_width,
            ] = True
        cmap = plt.get_cmap("gray").with_extremes(bad="tab:blue")
        axes[1, index].imshow(seen, cmap=cmap, vmin=0, vmax=1)
        axes[1, index].set_xticks([])
        axes[1, index].set_yticks([])
        _show(axes[2, index], reconstructed[index])
        if titles is not None:
            axes[0, index].set_title(str(titles[index]), fontsize=8)
    for row, name in enumerate(("original", "encoder sees", "reconstructed")):
        axes[row, 0].set_ylabel(name, fontsize=8)
    return fig


def plot_similarity_matrix(matrix, labels, title=None, label="cosine"):
    """A square matrix of similarities as a heatmap, every cell labelled with its value.

    Args:
        matrix: `(n, n)` numbers in [-1, 1] (e.g. mean cosine similarities between groups).
        labels: the `n` names of the rows (and columns).
        title: axes title.
        label: colour bar label.

    Returns:
        A matplotlib `Figure`.

    Example:

    >>> fig = plot_similarity_matrix([[1.0, 0.2], [0.2, 1.0]], ["cats", "cars"])
    >>> [text.get_text() for text in fig.axes[0].texts]
    ['1.00', '0.20', '0.20', '1.00']
    """
    matrix = np.asarray(matrix, dtype="float64")
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or len(labels) != len(matrix):
        raise ValueError(
            f"Expected a square matrix and one label per row. Received shape {matrix.shape} "
            f"and {len(labels)} labels."
        )
    fig, ax = plt.subplots(figsize=(5.5, 4.2), constrained_layout=True)
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-1, vmax=1)
    for row in range(len(matrix)):
        for column in range(len(matrix)):
            value = matrix[row, column]
            ax.text(column, row, f"{value:.2f}", ha="center", va="center", fontsize=9,
                    color="white" if abs(value) > 0.6 else "black")  # fmt: skip
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, label=label)
    return fig


def plot_word_clusters(
    points, words, groups, title=None, axis_labels=("first principal component", "second principal component")
):
    """Words as points in 2D (e.g. after PCA), coloured by group, each labelled.

    The words of one group often sit almost on top of each other, so their labels
    are fanned out on the side away from the nearest other group, with thin lines
    to their points.

    Args:
        points: `(n, 2)` coordinates, one row per word.
        words: the `n` words, in the order of `points`.
        groups: dict from group name to its words (every word in one group).
        title: axes title.
        axis_labels: labels of the x and y axes (by default, for a PCA projection).

    Returns:
        A matplotlib `Figure`.

    Example:

    >>> import numpy as np
    >>> fig = plot_word_clusters(np.array([[0, 0], [0.1, 0], [5, 5], [5, 5.1]]),
    ...                          ["cat", "dog", "car", "bus"], {"animals": ["cat", "dog"],
    ...                          "vehicles": ["car", "bus"]})
    >>> sorted(text.get_text() for text in fig.axes[0].texts)
    ['bus', 'car', 'cat', 'dog']
    """
    points = np.asarray(points, dtype="float64")
    if points.shape != (len(words), 2):
        raise ValueError(f"Expected points of shape ({len(words)}, 2). Received shape {points.shape}")
    scale = np.ptp(points, axis=0)  # work in fractions of the plot's width and height
    scale = np.where(scale > 0, scale, 1.0)
    members = {name: [words.index(word) for word in group] for name, group in groups.items()}
    centres = {name: points[index].mean(axis=0) for name, index in members.items()}
    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    colours = plt.get_cmap("tab10")
    for number, (name, index) in enumerate(members.items()):
        colour = colours(number % 10)
        ax.scatter(points[index, 0], points[index, 1], color=colour, label=name, s=25)
        centre = centres[name]
        others = [c for other, c in centres.items() if other != name and not np.allclose(c, centre)]
        nearest = min(others, key=lambda c: np.linalg.norm((c - centre) / scale)) if others else centre - 1
        away = np.arctan2(*((centre - nearest) / scale)[::-1])
        fan = away + np.linspace(-1.6, 1.6, len(index))
        # Points and fan angles in the same angular order, so that the lines do not cross.
        offsets = (points[index] - centre) / scale
        relative = np.angle(np.exp(1j * (np.arctan2(offsets[:, 1], offsets[:, 0]) - away)))
        for angle, j in zip(fan, np.argsort(relative), strict=True):
            where = centre + 0.17 * scale * np.array([np.cos(angle), np.sin(angle)])
            line = dict(arrowstyle="-", color=colour, lw=0.5)
            ax.annotate(words[index[j]], points[index[j]], xytext=where, fontsize=8, color=colour,
                        ha="center", va="center", arrowprops=line)  # fmt: skip
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    if title:
        ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    ax.margins(0.2)
    return fig
