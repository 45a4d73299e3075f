"""keraskit.course.viz: each figure draws the numbers it is given (read back from the figure)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from keraskit.course import viz  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_plot_patches_shows_each_patch_in_reading_order(rng):
    image = rng.random((12, 8, 3)).astype("float32")
    fig = viz.plot_patches(image, patch_size=4)
    patch_axes = fig.axes[1:]
    assert len(patch_axes) == 6  # 3 rows x 2 columns
    for index, ax in enumerate(patch_axes):
        row, column = divmod(index, 2)
        shown = ax.images[0].get_array()
        np.testing.assert_allclose(shown, image[4 * row : 4 * row + 4, 4 * column : 4 * column + 4])
    with pytest.raises(ValueError, match="does not divide"):
        viz.plot_patches(image, patch_size=5)


def test_integer_pixels_are_scaled_and_float_overshoot_is_clipped():
    fig = viz.plot_images(np.array([[[0, 255]], [[0, 51]]], dtype=np.uint8)[:, :, :, None])
    np.testing.assert_allclose(fig.axes[1].images[0].get_array(), [[0.0, 0.2]])
    fig = viz.plot_images(np.array([[[0.5, 1.01]]], dtype="float32"))
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), [[0.5, 1.0]])


def test_position_similarity_tiles_are_cosine_similarities(rng):
    embeddings = rng.normal(size=(6, 5))
    fig = viz.plot_position_similarity(embeddings, grid_size=(2, 3))
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    expected = unit @ unit.T
    for index in range(6):
        tile = fig.axes[index].images[0].get_array()
        np.testing.assert_allclose(tile, expected[index].reshape(2, 3), rtol=1e-6)
        assert tile[divmod(index, 3)] == pytest.approx(1.0)  # each patch is most like itself
    assert (fig.get_supxlabel(), fig.get_supylabel()) == ("input patch column", "input patch row")
    with pytest.raises(ValueError, match="drop the class token"):
        viz.plot_position_similarity(rng.normal(size=(7, 5)), grid_size=(2, 3))


def test_attention_heads_show_the_query_rows_over_the_patches(rng):
    weights = rng.random((3, 5, 5))  # 3 heads, a class token and 2x2 patches
    fig = viz.plot_attention_heads(np.zeros((8, 8)), weights, grid_size=(2, 2))
    for head in range(3):
        overlay = fig.axes[head + 1].images[1].get_array()
        np.testing.assert_allclose(overlay, weights[head, 0, 1:].reshape(2, 2), rtol=1e-6)
    fig = viz.plot_attention_heads(np.zeros((8, 8)), weights, grid_size=(2, 2), token=None)
    received = weights[2].mean(axis=0)[1:].reshape(2, 2)
    np.testing.assert_allclose(fig.axes[3].images[1].get_array(), received, rtol=1e-6)


def test_attention_heads_share_one_colour_scale_and_draw_one_block_per_patch(rng):
    weights = rng.random((3, 4, 4)) * np.array([1.0, 2.0, 3.0])[:, None, None]  # head 2 strongest
    fig = viz.plot_attention_heads(np.zeros((8, 8)), weights, grid_size=(2, 2), token=None)
    heats = [fig.axes[head + 1].images[1] for head in range(3)]
    expected = (0.0, float(weights.mean(axis=1).max()))
    assert all(heat.get_clim() == pytest.approx(expected) for heat in heats)
    assert all(heat.get_interpolation() == "nearest" for heat in heats)
    assert fig.axes[-1].get_ylabel() == "attention received"  # the colour bar


def test_blocks_go_where_the_extent_puts_them_and_the_view_stays_on_the_image(rng):
    # Tokens 8 pixels apart, centred on rows and columns 3, 11, 19, 27 of a 28x28 image (a
    # conv stem's): the grid reaches past the image, which stays the whole view.
    extent = (-1.5, 30.5, 30.5, -1.5)
    fig = viz.plot_attention_heads(
        np.zeros((28, 28)), rng.random((2, 16, 16)), (4, 4), token=None, extent=extent
    )
    for ax in fig.axes[1:3]:
        assert ax.images[1].get_extent() == list(extent)
        assert ax.get_xlim() == (-0.5, 27.5) and ax.get_ylim() == (27.5, -0.5)
    fig = viz.plot_rollout(np.zeros((2, 28, 28)), rng.random((2, 4, 4)), extent=extent)
    assert fig.axes[2].images[1].get_extent() == list(extent)
    default = viz.plot_rollout(np.zeros((1, 28, 28)), rng.random((1, 4, 4)))  # one block per 7x7 patch
    assert default.axes[1].images[1].get_extent() == [-0.5, 27.5, 27.5, -0.5]


def test_rollout_overlays_and_shape_check(rng):
    rollouts = rng.random((2, 3, 3))
    fig = viz.plot_rollout(np.zeros((2, 9, 9)), rollouts, labels=["a", "b"])
    np.testing.assert_allclose(fig.axes[3].images[1].get_array(), rollouts[1], rtol=1e-6)
    assert fig.axes[1].get_title() == "b"
    with pytest.raises(ValueError, match="rollouts"):
        viz.plot_rollout(np.zeros((2, 9, 9)), rollouts[:1])


def test_learning_curves_plot_the_history():
    history = {"loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7], "accuracy": [0.5, 0.7, 0.8]}
    fig = viz.plot_learning_curves(history)
    loss_lines = fig.axes[0].get_lines()
    np.testing.assert_allclose(loss_lines[0].get_ydata(), history["loss"])
    np.testing.assert_allclose(loss_lines[1].get_ydata(), history["val_loss"])
    np.testing.assert_allclose(fig.axes[1].get_lines()[0].get_ydata(), history["accuracy"])
    with pytest.raises(ValueError, match="None of"):
        viz.plot_learning_curves({"mae": [1.0]})


def test_confusion_matrix_counts_pairs(rng):
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.random(200) < 0.7, y_true, rng.integers(0, 4, 200))
    fig = viz.plot_confusion_matrix(y_true, y_pred, ["a", "b", "c", "d"])
    expected = np.zeros((4, 4), int)
    for t, p in zip(y_true, y_pred, strict=True):
        expected[t, p] += 1
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), expected)
    assert f"{(y_true == y_pred).mean():.1%}" in fig.axes[0].get_title()
    with pytest.raises(ValueError, match="differ in length"):
        viz.plot_confusion_matrix([0, 1], [0], ["a", "b"])


def test_plot_reconstructions_hides_exactly_the_masked_patches(rng):
    images = rng.random((2, 8, 12)).astype("float32")
    reconstructed = rng.random((2, 8, 12)).astype("float32")
    mask = np.array([[1, 0, 0, 0, 0, 1], [0, 1, 1, 0, 0, 0]], dtype="float32")  # a 2x3 grid of 4x4 patches
    fig = viz.plot_reconstructions(images, mask, reconstructed, patch_size=4)
    axes = np.array(fig.axes).reshape(3, 2)
    np.testing.assert_allclose(axes[0, 1].images[0].get_array(), images[1])
    np.testing.assert_allclose(axes[2, 0].images[0].get_array(), reconstructed[0])
    seen = axes[1, 0].images[0].get_array()
    expected_hidden = np.zeros((8, 12), bool)
    expected_hidden[:4, :4] = expected_hidden[4:, 8:] = True  # patches 0 and 5
    np.testing.assert_array_equal(np.ma.getmaskarray(seen), expected_hidden)
    np.testing.assert_allclose(seen[~expected_hidden], images[0][~expected_hidden])
    with pytest.raises(ValueError, match="mask of shape"):
        viz.plot_reconstructions(images, mask[:, :4], reconstructed, patch_size=4)


def test_similarity_matrix_labels_every_cell_with_its_value():
    matrix = np.array([[1.0, -0.25, 0.5], [-0.25, 1.0, 0.125], [0.5, 0.125, 1.0]])
    fig = viz.plot_similarity_matrix(matrix, ["a", "b", "c"])
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), matrix)
    assert [text.get_text() for text in fig.axes[0].texts] == [f"{v:.2f}" for v in matrix.ravel()]
    with pytest.raises(ValueError, match="square matrix"):
        viz.plot_similarity_matrix(matrix[:2], ["a", "b"])


def test_word_clusters_draw_each_word_at_its_point_in_its_group_colour(rng):
    points = rng.normal(size=(6, 2))
    words = ["cat", "dog", "cow", "car", "bus", "van"]
    fig = viz.plot_word_clusters(points, words, {"animals": words[:3], "vehicles": words[3:]})
    ax = fig.axes[0]
    for collection, group in zip(ax.collections, (words[:3], words[3:]), strict=True):
        np.testing.assert_allclose(collection.get_offsets(), points[[words.index(w) for w in group]])
    labels = {text.get_text(): text.xy for text in ax.texts}
    for word, point in zip(words, points, strict=True):
        np.testing.assert_allclose(labels[word], point)  # each label's line ends at its own point
    with pytest.raises(ValueError, match=r"\(6, 2\)"):
        viz.plot_word_clusters(points[:5], words, {"animals": words})
