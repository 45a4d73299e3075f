"""`make demo`: train a small Vision Transformer built from keraskit layers, report test accuracy.

Uses Fashion-MNIST when it is on this machine or downloadable, otherwise the
synthetic shapes dataset, and says which. The backend comes from KERAS_BACKEND.

    python -m keraskit.course.demo [--epochs N] [--dataset auto|fashion_mnist|shapes]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keraskit.course.data import (  # noqa: E402
    DatasetUnavailableError,
    find_fashion_mnist,
    load_fashion_mnist,
    synthetic_shapes,
)
from keraskit.models import vit  # noqa: E402
from keraskit.training import adamw_optimizer, warmup_cosine  # noqa: E402


def load_data(choice):
    """`(train, test, description)`, images float32 in [0, 1] with a channel axis."""
    if choice in ("auto", "fashion_mnist"):
        folder = find_fashion_mnist()
        try:
            (x_train, y_train), (x_test, y_test) = load_fashion_mnist()
        except DatasetUnavailableError as error:
            if choice == "fashion_mnist":
                raise
            print(f"Fashion-MNIST unavailable, using synthetic shapes instead.\n  ({error})")
        else:
            source = f"from {folder}" if folder else "downloaded by keras.datasets"
            prepare = lambda x: (x.astype("float32") / 255.0)[..., None]  # noqa: E731
            return ((prepare(x_train), y_train), (prepare(x_test), y_test), f"Fashion-MNIST ({source})", 10)
    train = synthetic_shapes(20000, image_size=28, channels=1, seed=0)
    test = synthetic_shapes(4000, image_size=28, channels=1, seed=1)
    return train, test, "synthetic shapes (keraskit.course.data.synthetic_shapes, seeds 0 and 1)", 4


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--dataset", choices=("auto", "fashion_mnist", "shapes"), default="auto")
    args = parser.parse_args(argv)

    (x_train, y_train), (x_test, y_test), description, num_classes = load_data(args.dataset)
    print(f"Backend: {keras.backend.backend()}  Dataset: {description}")
    print(f"  {len(x_train)} training and {len(x_test)} test images of {x_train.shape[1]}x{x_train.shape[2]}")

    keras.utils.set_random_seed(0)
    model = vit(
        image_size=x_train.shape[1],
        patch_size=4,
        num_classes=num_classes,
        hidden_dim=64,
        num_layers=4,
        num_heads=4,
        intermediate_dim=128,
        channels=1,
        pooling="gap",
    )
    steps = args.epochs * int(np.ceil(len(x_train) / args.batch_size))
    schedule = warmup_cosine(2e-3, total_steps=steps, warmup_steps=steps // 10)
    model.compile(
        optimizer=adamw_optimizer(model, schedule, weight_decay=0.05),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    print(
        f"ViT: 7x7 patches of 4x4 pixels, width 64, 4 blocks, "
        f"{model.count_params():,} parameters; {args.epochs} epochs"
    )
    start = time.perf_counter()
    model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=2)
    seconds = time.perf_counter() - start
    _, accuracy = model.evaluate(x_test, y_test, batch_size=512, verbose=0)
    print(
        f"Test accuracy: {accuracy:.4f} on {description}, "
        f"after {seconds:.0f} s of training on {keras.backend.backend()}"
    )
    return accuracy


if __name__ == "__main__":
    main()
