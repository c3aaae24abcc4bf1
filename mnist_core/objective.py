"""How the project trains a network: adam, sparse categorical cross-entropy and
accuracy, or, with drawings that are no digit among the labels (`models.NOT_A_DIGIT`,
-1), a loss that pulls their probabilities towards uniform and an accuracy over digits.

Kept apart from `models` (the architectures), which the web server lists without Keras.
"""

from __future__ import annotations

import keras


def compile_model(model: keras.Model, learning_rate=1e-3, *, non_digits: bool = False,
                  ema_momentum: float = 0.0) -> keras.Model:
    """Compile with adam, sparse categorical cross-entropy and accuracy.

    With `non_digits`, labels may also be `NOT_A_DIGIT`: for those the loss pulls the
    ten probabilities towards uniform (outlier exposure), so the model learns to be
    unsure of what is no digit; accuracy counts digits only. A non-zero `ema_momentum`
    has the optimiser keep a moving average of the weights (`keras.callbacks.
    SwapEMAWeights` puts it in the model).
    """
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate, use_ema=ema_momentum > 0,
        ema_momentum=ema_momentum or 0.99,
    )
    model.compile(
        optimizer=optimizer,
        loss=digit_or_uniform_loss if non_digits else "sparse_categorical_crossentropy",
        metrics=[DigitAccuracy()] if non_digits else ["accuracy"],
    )
    return model


def digit_or_uniform_loss(y_true, y_pred):
    """Cross-entropy with the label for digits, with the uniform distribution for
    `NOT_A_DIGIT` labels."""
    labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
    log_p = keras.ops.log(keras.ops.clip(y_pred, 1e-7, 1.0))
    picked = keras.ops.take_along_axis(
        log_p, keras.ops.expand_dims(keras.ops.maximum(labels, 0), -1), axis=-1
    )[:, 0]
    return keras.ops.where(labels >= 0, -picked, -keras.ops.mean(log_p, axis=-1))


class DigitAccuracy(keras.metrics.Metric):
    """Accuracy over the digits of a batch, skipping `NOT_A_DIGIT` labels."""

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.right = self.add_variable((), initializer="zeros", name="right")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = keras.ops.cast(keras.ops.reshape(y_true, (-1,)), "int32")
        digit = keras.ops.cast(labels >= 0, "float32")
        guess = keras.ops.cast(keras.ops.argmax(y_pred, axis=-1), "int32")
        hit = keras.ops.cast(keras.ops.equal(guess, labels), "float32") * digit
        self.right.assign_add(keras.ops.sum(hit))
        self.count.assign_add(keras.ops.sum(digit))

    def result(self):
        return self.right / keras.ops.maximum(self.count, 1.0)

    def reset_state(self):
        self.right.assign(0.0)
        self.count.assign(0.0)
