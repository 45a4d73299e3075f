"""Lesson 10, inductive bias and data efficiency: the tasks of exercises/10_data_efficiency.ipynb.

Example:

>>> [task.name for task in TASKS]
['hard_distillation_loss', 'attention_rollout', 'teacher_agreement']
"""

import numpy as np

from keraskit.course.grading.lessons._helpers import normal, softmax
from keraskit.course.grading.tasks import Case, Task

LESSON = "10"


def _cross_entropy(logits, labels):
    logits = logits - logits.max(-1, keepdims=True)
    log_probs = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels].mean()


def _distillation_reference(class_logits, distillation_logits, labels, teacher_logits):
    return 0.5 * _cross_entropy(class_logits, labels) + 0.5 * _cross_entropy(
        distillation_logits, teacher_logits.argmax(-1)
    )


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
        return softmax(normal(rng, blocks, batch, heads, tokens, tokens) * 2)

    return [
        Case((maps(3, 2, 4, 5),), "3 blocks, 2 images, 4 heads, class token + 4 patches"),
        Case((maps(1, 1, 1, 3),), "one block, one head"),
    ]


TASKS = (
    Task(
        LESSON,
        "hard_distillation_loss",
        3,
        cases=lambda rng: [
            Case(
                (normal(rng, 6, 4), normal(rng, 6, 4), rng.integers(0, 4, 6), normal(rng, 6, 4)),
                "6 examples, 4 classes",
            ),
            Case(
                (normal(rng, 3, 10) * 5, normal(rng, 3, 10), rng.integers(0, 10, 3), normal(rng, 3, 10)),
                "large logits (use a stable log-softmax)",
            ),
        ],
        reference=_distillation_reference,
        hint="1/2 CE(class logits, true labels) + 1/2 CE(distillation logits, argmax of the teacher's "
        "logits): hard labels from the teacher, mean over the batch, cross-entropy from logits.",
        rtol=1e-4,
        atol=1e-5,
    ),
    Task(
        LESSON,
        "attention_rollout",
        3,
        cases=_rollout_cases,
        reference=_rollout_reference,
        hint="for each block in order: average the heads, add the residual (0.5 A + 0.5 I), renormalise "
        "the rows, multiply onto the running product (A_block @ joint). Return the class token's "
        "row without its own column, normalised to sum to 1.",
        rtol=1e-4,
        atol=1e-6,
    ),
    Task(
        LESSON,
        "teacher_agreement",
        1,
        cases=lambda rng: [Case((normal(rng, 50, 4), normal(rng, 50, 4)), "50 predictions, 4 classes")],
        reference=lambda student_logits, teacher_logits: np.mean(
            student_logits.argmax(-1) == teacher_logits.argmax(-1)
        ),
        hint="the fraction of examples where the student's and the teacher's argmax agree.",
    ),
)
