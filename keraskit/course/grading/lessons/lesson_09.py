"""Lesson 09, the Vision Transformer: the tasks of exercises/09_vision_transformer.ipynb.

Example:

>>> [task.name for task in TASKS]
['encode_patches', 'count_vit_parameters', 'gap_pool']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import normal
from keraskit.course.grading.tasks import Case, Task

LESSON = "09"


def _encode_patches_reference(patches, kernel, bias, class_token, positions):
    tokens = patches @ kernel + bias  # (B, N, D)
    cls = np.broadcast_to(class_token, (tokens.shape[0], 1, tokens.shape[-1]))
    return np.concatenate([cls, tokens], axis=1) + positions[None]


def _encode_patches_cases(rng):
    b, n, p, d = 2, 9, 12, 8
    return [
        Case(
            (normal(rng, b, n, p), normal(rng, p, d), normal(rng, d), normal(rng, d), normal(rng, n + 1, d)),
            "2 images, 9 patches of 12 values, width 8",
        ),
        Case(
            (
                normal(rng, 3, 4, 5),
                normal(rng, 5, 6),
                np.zeros(6, "float32"),
                normal(rng, 6),
                np.zeros((5, 6), "float32"),
            ),
            "no bias, zero positions: the class token must lead",
        ),
    ]


def _vit_parameters_reference(
    patch_values, num_patches, hidden_dim, num_layers, intermediate_dim, num_classes
):
    # Cases pass arguments by position, so the names the notebook gives them do not matter here.
    D, M = hidden_dim, intermediate_dim
    block = (4 * D * D + 4 * D) + (2 * D * M + M + D) + 4 * D
    return np.array(
        patch_values * D
        + D
        + D
        + (num_patches + 1) * D
        + num_layers * block
        + 2 * D
        + D * num_classes
        + num_classes
    )


TASKS = (
    Task(
        LESSON,
        "encode_patches",
        3,
        cases=_encode_patches_cases,
        reference=_encode_patches_reference,
        hint="project each patch (patches @ kernel + bias), put the class token in front of every "
        "image's tokens (N -> N + 1), then add the positions, one row per token, class token "
        "first.",
    ),
    Task(
        LESSON,
        "count_vit_parameters",
        2,
        cases=lambda rng: [
            Case((768, 196, 768, 12, 3072, 1000), "ViT-B/16 (86,567,656)"),
            Case((49, 16, 64, 4, 128, 10), "the lesson's small ViT"),
            # Drawn when grading, so a table of the fixed cases' answers earns nothing.
            Case(
                tuple(int(n) for n in rng.integers([3, 4, 8, 1, 8, 2], [800, 400, 512, 13, 2048, 1000])),
                "a random ViT",
            ),
        ],
        reference=_vit_parameters_reference,
        hint="patch projection (values x dim + dim), class token (dim), positions ((N + 1) x dim), per "
        "block attention 4 dim^2 + 4 dim, MLP 2 dim mlp + mlp + dim, two LayerNorms 4 dim; final "
        "LayerNorm 2 dim; head dim x classes + classes.",
        exact=True,
    ),
    Task(
        LESSON,
        "gap_pool",
        1,
        cases=lambda rng: [Case((normal(rng, 2, 5, 3),), "2 images, 5 tokens")],
        reference=lambda tokens: tokens.mean(axis=1),
        hint="global average pooling: the mean over the tokens axis, (B, N, D) -> (B, D).",
    ),
)
