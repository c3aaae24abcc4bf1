"""How the project trains a network: adam, sparse categorical cross-entropy and
accuracy (a whole-number reader: the CTC loss), or, with drawings that are no digit among
-1), a loss that pulls their probabilities towards uniform and an accuracy over digits;
for a student learning from a teacher (`mnist_core.training.distill`), a loss that also pulls
its softened probabilities towards the teacher's.

Kept apart from `models` (the architectures), which the web server lists without Keras.
"""

from __future__ import annotations

import keras

# The smallest probability whose logarithm the soft loss takes. A confident teacher
# gives half its probabilities below 1e-7 (the usual floor, the hard loss's): floored
# there, its softened tail would be flat and say nothing of which digits come next.
SOFT_FLOOR = 1e-12


def compile_model(model: keras.Model, learning_rate=1e-3, *, non_digits: bool = False,
                  ema_momentum: float = 0.0, loss=None) -> keras.Model:
    """Compile with adam, sparse categorical cross-entropy and accuracy.

    With `non_digits`, labels may also be `NOT_A_DIGIT`: for those the loss pulls the
    ten probabilities towards uniform (outlier exposure), so the model learns to be
    unsure of what is no digit; accuracy counts digits only. A non-zero `ema_momentum`
    has the optimiser keep a moving average of the weights (`keras.callbacks.
    SwapEMAWeights` puts it in the model). `loss` replaces the loss (a student's
    `distillation_loss`, whose targets hold the label first); accuracy then counts
    digits only, by that label.
    """
    optimizer = keras.optimizers.Adam(
        learning_rate=learning_rate, use_ema=ema_momentum > 0,
        ema_momentum=ema_momentum or 0.99,
    )
    model.compile(
        optimizer=optimizer,
        loss=loss or (digit_or_uniform_loss if non_digits else "sparse_categorical_crossentropy"),
        metrics=[DigitAccuracy()] if non_digits or loss is not None else ["accuracy"],
    )
    return model


def digit_or_uniform_loss(y_true, y_pred):
    """Cross-entropy with the label for digits, with the uniform distribution for
    `NOT_A_DIGIT` labels."""
    labels = hard_labels(y_true)
    log_p = keras.ops.log(keras.ops.clip(y_pred, 1e-7, 1.0))
    picked = keras.ops.take_along_axis(
        log_p, keras.ops.expand_dims(keras.ops.maximum(labels, 0), -1), axis=-1
    )[:, 0]
    return keras.ops.where(labels >= 0, -picked, -keras.ops.mean(log_p, axis=-1))


def ctc_loss(targets, probabilities):
    """A whole-number reader's loss: CTC of its `(N, T, 11)` per-step probabilities
    (the ten digits, then the blank) against `(N, 1 + max digits)` targets, each
    number's length, then its digits (`number_data.NumberBatch.targets`)."""
    from mnist_core.model.number_network import BLANK

    targets = keras.ops.cast(targets, "int32")
    batch, steps = keras.ops.shape(probabilities)[0], keras.ops.shape(probabilities)[1]
    return keras.ops.ctc_loss(
        targets[:, 1:], keras.ops.log(keras.ops.maximum(probabilities, 1e-7)),
        targets[:, 0], keras.ops.full((batch,), steps, "int32"), mask_index=BLANK)


def compile_number_reader(model: keras.Model, learning_rate=1e-3) -> keras.Model:
    """Compile a whole-number reader: adam (gradients clipped: CTC's can spike on a
    number it cannot align yet) and the CTC loss; its accuracy, numbers read exactly,
    is scored by decoding (`number_eval`), not as a Keras metric."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, clipnorm=5.0),
                  loss=ctc_loss)
    return model


def hard_labels(y_true):
    """The labels of a batch of targets as int32 `(N,)`: the targets themselves, or the
    first column of a student's `(N, 11)` targets (label, then the teacher's ten
    probabilities)."""
    rows = keras.ops.reshape(y_true, (keras.ops.shape(y_true)[0], -1))
    return keras.ops.cast(rows[:, 0], "int32")


def soften(probabilities, temperature: float):
    """Probabilities at a temperature: softmax(log(p) / T), which keeps their order and
    spreads them (T > 1) so the small ones, how a digit resembles others, weigh more."""
    log_p = keras.ops.log(keras.ops.clip(probabilities, SOFT_FLOOR, 1.0))
    return keras.ops.softmax(log_p / temperature, axis=-1)


def distillation_loss(temperature: float, alpha: float):
    """The loss of a student fitting `(N, 11)` targets, the label then a teacher's ten
    probabilities: alpha * the hard label's loss (`digit_or_uniform_loss`) + (1 - alpha)
    * T^2 * KL(teacher_T || student_T), both softened at temperature T (`soften`). T^2
    keeps the soft part's gradients as large as at T = 1 (Hinton et al., 2015)."""
    if not temperature > 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")

    def loss(y_true, y_pred):
        hard = digit_or_uniform_loss(y_true[:, 0], y_pred)
        teacher = soften(y_true[:, 1:], temperature)
        log_student = keras.ops.log_softmax(
            keras.ops.log(keras.ops.clip(y_pred, SOFT_FLOOR, 1.0)) / temperature, axis=-1
        )
        log_teacher = keras.ops.log(keras.ops.clip(teacher, SOFT_FLOOR, 1.0))
        kl = keras.ops.sum(teacher * (log_teacher - log_student), axis=-1)
        return alpha * hard + (1.0 - alpha) * temperature**2 * kl

    loss.__name__ = "distillation_loss"
    return loss


class DigitAccuracy(keras.metrics.Metric):
    """Accuracy over the digits of a batch, skipping `NOT_A_DIGIT` labels."""

    def __init__(self, name="accuracy", **kwargs):
        super().__init__(name=name, **kwargs)
        self.right = self.add_variable((), initializer="zeros", name="right")
        self.count = self.add_variable((), initializer="zeros", name="count")

    def update_state(self, y_true, y_pred, sample_weight=None):
        labels = hard_labels(y_true)
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
