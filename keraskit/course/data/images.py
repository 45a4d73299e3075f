"""One call for the image datasets the course trains on, ready for a model."""

from keraskit.course.data.cifar10 import CIFAR10_CLASSES, load_cifar10
from keraskit.course.data.fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist

IMAGE_DATASETS = {
    "fashion_mnist": (load_fashion_mnist, FASHION_MNIST_CLASSES),
    "cifar10": (load_cifar10, CIFAR10_CLASSES),
}


def load_images(name="fashion_mnist"):
    """Loads an image dataset as float32 images in [0, 1] with a channel axis.

    Switching the course's ViT from Fashion-MNIST to CIFAR-10 is this one
    argument: every later step reads the image size, the channels and the
    class names from what this returns.

    Args:
        name: `"fashion_mnist"` (28x28x1, offline on Debian) or `"cifar10"`
            (32x32x3, downloaded by Keras when not found locally).

    Returns:
        `(x_train, y_train), (x_test, y_test), class_names`: images
        `float32 (N, height, width, channels)`, labels `int32 (N,)`.

    Raises:
        ValueError: unknown `name`.
        DatasetUnavailableError: the files are missing and cannot be downloaded.

    Example (needs the files, so not run as a doctest):

        (x_train, y_train), (x_test, y_test), classes = load_images("cifar10")
    """
    if name not in IMAGE_DATASETS:
        raise ValueError(f"`name` must be one of {sorted(IMAGE_DATASETS)}. Received: name={name!r}")
    load, class_names = IMAGE_DATASETS[name]
    (x_train, y_train), (x_test, y_test) = load()

    def prepare(images):
        images = images.astype("float32") / 255.0
        return images[..., None] if images.ndim == 3 else images  # grey images get 1 channel

    return (
        (prepare(x_train), y_train.astype("int32")),
        (prepare(x_test), y_test.astype("int32")),
        class_names,
    )
