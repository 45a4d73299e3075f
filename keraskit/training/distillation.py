"""DeiT's hard distillation: a ViT learns from the labels and from a teacher's decisions."""

import math

import keras
from keras import ops


def fused_log_probabilities(class_logits, distillation_logits):
    """DeiT's late fusion of two heads: `log((softmax(a) + softmax(b)) / 2)`, computed stably.

    Adding the two log-softmaxes in log space (`logaddexp`) never takes the log of a
    probability that underflowed to zero.

    Example:

    >>> import numpy as np
    >>> a, b = np.array([[2.0, 0.0]]), np.array([[0.0, 2.0]])
    >>> np.round(np.exp(keras.ops.convert_to_numpy(fused_log_probabilities(a, b))), 3).tolist()
    [[0.5, 0.5]]
    """
    class_log_probabilities = ops.log_softmax(class_logits, axis=-1)
    distillation_log_probabilities = ops.log_softmax(distillation_logits, axis=-1)
    # A Python float, not a tensor: it takes the dtype of the logits (float16 to float64).
    return ops.logaddexp(class_log_probabilities, distillation_log_probabilities) - math.log(2.0)


@keras.saving.register_keras_serializable(package="keraskit")
class HardDistillation(keras.Model):
    """Trains a ViT with a distillation token against a frozen teacher (Touvron et al., 2021).

    The student (`vit(..., distillation=True)`) has two heads. The class head
    learns the true labels; the distillation head learns the teacher's
    decision `argmax(teacher(images))` on the same (augmented) images:

        loss = 1/2 CE(class_logits, y) + 1/2 CE(distillation_logits, y_teacher)

    A CNN teacher passes on its inductive bias (locality) to the ViT through
    these labels. At test time the two heads are fused as in the paper (section
    5, "joint classifiers"): their softmax probabilities are averaged. The model
    returns the log of that average, `log((softmax(class) + softmax(distill)) / 2)`:
    its softmax is the fused probability and its argmax DeiT's prediction, so it
    stands wherever logits do (`from_logits=True` losses, `argmax`).

    The model computes this loss itself (it overrides `compute_loss`, Keras 3's
    way for a model with its own loss), so it cannot be compiled with a wrong
    one: compile it with an optimizer and metrics only; passing `loss` or
    `loss_weights` raises a `ValueError`. Labels are class indices.

    Args:
        student: a model with two outputs `[class_logits, distillation_logits]`.
        teacher: a trained model from images to logits; it is frozen.
        augmentation: optional layer applied to the images first, in
            training only, so teacher and student see the same images.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: a batch of images.
        training: in training, returns `(class_logits, distillation_logits,
            teacher_labels)` for `compute_loss`; otherwise the log of the two
            heads' averaged softmax probabilities, DeiT's fused prediction.

    Example:

    >>> import keras, numpy as np
    >>> from keraskit.models import vit
    >>> student = vit(image_size=8, patch_size=4, num_classes=3, hidden_dim=8, num_layers=1,
    ...               num_heads=2, intermediate_dim=16, channels=1, distillation=True)
    >>> teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                             keras.layers.Dense(3)])
    >>> model = HardDistillation(student, teacher)
    >>> model.compile(optimizer="adam", metrics=["accuracy"])
    >>> history = model.fit(np.random.rand(8, 8, 8, 1), np.arange(8) % 3, epochs=1, verbose=0)
    >>> model.predict(np.zeros((2, 8, 8, 1)), verbose=0).shape
    (2, 3)
    """

    def __init__(self, student, teacher, augmentation=None, **kwargs):
        super().__init__(**kwargs)
        if len(student.outputs) != 2:
            raise ValueError(
                "HardDistillation needs a student with two outputs [class_logits, "
                "distillation_logits], e.g. keraskit.models.vit(..., distillation=True). "
                f"Received a model with {len(student.outputs)} output(s)."
            )
        self.student = student
        self.teacher = teacher
        self.teacher.trainable = False
        self.augmentation = augmentation

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, **kwargs):
        if loss is not None or loss_weights is not None:
            raise ValueError(
                "HardDistillation computes its own loss, DeiT's "
                "1/2 CE(class_logits, y) + 1/2 CE(distillation_logits, teacher labels): compile "
                f"it with an optimizer and metrics only. Received: loss={loss!r}, "
                f"loss_weights={loss_weights!r}"
            )
        super().compile(optimizer=optimizer, **kwargs)

    def build(self, input_shape):
        # Student and teacher are built models already; only the augmentation may not be.
        if self.augmentation is not None and not self.augmentation.built:
            self.augmentation.build(input_shape)
        self.built = True

    def call(self, images, training=False):
        if training and self.augmentation is not None:
            images = self.augmentation(images, training=True)
        class_logits, distillation_logits = self.student(images, training=training)
        if not training:
            return fused_log_probabilities(class_logits, distillation_logits)
        teacher_labels = ops.argmax(self.teacher(images, training=False), axis=-1)
        return class_logits, distillation_logits, ops.stop_gradient(teacher_labels)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if sample_weight is not None:
            raise ValueError(
                "HardDistillation does not support `sample_weight`: DeiT weighs every "
                "image alike. Received a sample_weight."
            )
        cross_entropy = keras.losses.sparse_categorical_crossentropy
        if not isinstance(y_pred, (tuple, list)):  # evaluation: the fused heads against y
            loss = ops.mean(cross_entropy(y, y_pred, from_logits=True))
        else:
            class_logits, distillation_logits, teacher_labels = y_pred
            loss = 0.5 * ops.mean(cross_entropy(y, class_logits, from_logits=True)) + 0.5 * ops.mean(
                cross_entropy(teacher_labels, distillation_logits, from_logits=True)
            )
        # Losses the layers add themselves (weight regularizers), as Keras's own compute_loss does.
        return loss + ops.sum(self.losses) if self.losses else loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        # Metrics judge the class head in training, DeiT's fused prediction otherwise.
        predictions = y_pred[0] if isinstance(y_pred, (tuple, list)) else y_pred
        return super().compute_metrics(x, y, predictions, sample_weight)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "student": keras.saving.serialize_keras_object(self.student),
                "teacher": keras.saving.serialize_keras_object(self.teacher),
                "augmentation": keras.saving.serialize_keras_object(self.augmentation),
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        for key in ("student", "teacher", "augmentation"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
