"""DeiT's hard distillation: a ViT learns from the labels and from a teacher's decisions."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keraskit")
class HardDistillation(keras.Model):
    """Trains a ViT with a distillation token against a frozen teacher (Touvron et al., 2021).

    The student (`vit(..., distillation=True)`) has two heads. The class head
    learns the true labels; the distillation head learns the teacher's
    decision `argmax(teacher(images))` on the same (augmented) images:

        loss = 1/2 CE(class_logits, y) + 1/2 CE(distillation_logits, y_teacher)

    A CNN teacher passes on its inductive bias (locality) to the ViT through
    these labels. At test time the prediction is the average of both heads.

    Compile it like any model, with the loss for the class head and
    `loss_weights=0.5`; the distillation half is added in `call`
    (`add_loss`), because it needs no label from the dataset.

    Args:
        student: a model with two outputs `[class_logits, distillation_logits]`.
        teacher: a trained model from images to logits; it is frozen.
        augmentation: optional layer applied to the images first, in
            training only, so teacher and student see the same images.
        **kwargs: standard `keras.Model` arguments.

    Call arguments:
        images: a batch of images.
        training: in training, returns the class head's logits and adds the
            distillation loss; otherwise returns the average of both heads.

    Example:

    >>> import keras, numpy as np
    >>> from keraskit.models import vit
    >>> student = vit(image_size=8, patch_size=4, num_classes=3, dim=8, depth=1,
    ...               num_heads=2, mlp_dim=16, channels=1, distillation=True)
    >>> teacher = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
    ...                             keras.layers.Dense(3)])
    >>> model = HardDistillation(student, teacher)
    >>> model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(
    ...     from_logits=True), loss_weights=0.5)
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
            return (class_logits + distillation_logits) / 2
        teacher_labels = ops.argmax(self.teacher(images, training=False), axis=-1)
        distillation_loss = keras.losses.sparse_categorical_crossentropy(
            ops.stop_gradient(teacher_labels), distillation_logits, from_logits=True
        )
        self.add_loss(0.5 * ops.mean(distillation_loss))
        return class_logits

    def get_config(self):
        config = super().get_config()
        config.update({
            "student": keras.saving.serialize_keras_object(self.student),
            "teacher": keras.saving.serialize_keras_object(self.teacher),
            "augmentation": keras.saving.serialize_keras_object(self.augmentation),
        })
        return config

    @classmethod
    def from_config(cls, config):
        for key in ("student", "teacher", "augmentation"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
