"""`mnist_core.training.distill` and its loss: a student trained on a teacher's probabilities."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from mnist_core.__main__ import main
from mnist_core.model.card import ModelCard
from mnist_core.reading.inference import predict_proba
from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.store import registry
from mnist_core.training.distill import distill, teacher_recipe
from mnist_core.training.models import NOT_A_DIGIT
from mnist_core.training.objective import DigitAccuracy, distillation_loss, soften
from mnist_core.training.train import SoftTargets, TrainConfig, prepare_run, train_model

TEACHER_RECIPE = dict(architecture="mlp-16-16-relu", epochs=2, batch_size=64,
                      train_size=400, seed=4, non_digits=40)


def _probabilities(rng, n, sharpness=1.0):
    logits = rng.normal(scale=3.0 * sharpness, size=(n, 10))
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def _loss(y_true, y_pred, temperature, alpha):
    """The per-image loss, as numpy."""
    loss = distillation_loss(temperature, alpha)
    return keras.ops.convert_to_numpy(loss(tf.constant(y_true), tf.constant(y_pred)))


def _targets(labels, teacher):
    return np.concatenate([np.asarray(labels, np.float32)[:, None], teacher], axis=1)


@pytest.fixture(scope="module")
def teacher_store(mnist_subset, tmp_path_factory):
    """A store holding a tiny teacher trained on the subset (with non-digits)."""
    store = tmp_path_factory.mktemp("teacher")
    train_model(TrainConfig(**TEACHER_RECIPE), data=mnist_subset, save_as="teacher",
                models_dir=store)
    return store


def test_softening_is_p_to_the_one_over_t_renormalised(rng):
    p = _probabilities(rng, 8)
    for temperature in (0.5, 1.0, 2.0, 5.0):
        expected = p ** (1 / temperature)
        expected /= expected.sum(axis=1, keepdims=True)
        softened = keras.ops.convert_to_numpy(soften(tf.constant(p), temperature))
        np.testing.assert_allclose(softened, expected, rtol=1e-4, atol=1e-6)
        assert (softened.argsort(axis=1) == p.argsort(axis=1)).all()  # order kept
    np.testing.assert_allclose(keras.ops.convert_to_numpy(soften(tf.constant(p), 1.0)), p,
                               rtol=1e-4, atol=1e-6)

    def entropy(q):
        return -(q * np.log(q)).sum(axis=1)

    warm = keras.ops.convert_to_numpy(soften(tf.constant(p), 2.0))
    hot = keras.ops.convert_to_numpy(soften(tf.constant(p), 50.0))
    assert (entropy(warm) > entropy(p)).all() and (entropy(hot) > entropy(warm)).all()
    np.testing.assert_allclose(hot, 0.1, atol=0.05)  # towards uniform


def test_with_alpha_0_and_t_1_the_loss_is_cross_entropy_against_the_teacher(rng):
    teacher, student = _probabilities(rng, 16), _probabilities(rng, 16)
    labels = rng.integers(0, 10, 16)
    loss = _loss(_targets(labels, teacher), student, temperature=1.0, alpha=0.0)
    cross_entropy = -(teacher * np.log(student)).sum(axis=1)
    teacher_entropy = -(teacher * np.log(teacher)).sum(axis=1)
    # KL: the cross-entropy less the teacher's own entropy, which no student changes
    np.testing.assert_allclose(loss, cross_entropy - teacher_entropy, rtol=1e-4, atol=1e-5)
    # so it pulls the student's logits as cross-entropy does: by student - teacher
    logits = tf.Variable(rng.normal(size=(16, 10)).astype(np.float32))
    with tf.GradientTape() as tape:
        per_image = distillation_loss(1.0, 0.0)(tf.constant(_targets(labels, teacher)),
                                                tf.nn.softmax(logits))
        total = tf.reduce_sum(per_image)
    gradient = tape.gradient(total, logits).numpy()
    np.testing.assert_allclose(gradient, tf.nn.softmax(logits).numpy() - teacher, atol=1e-5)
    # and it is nothing when the student reads as the teacher does
    np.testing.assert_allclose(_loss(_targets(labels, teacher), teacher, 1.0, 0.0), 0.0,
                               atol=1e-5)


def test_the_soft_part_compares_both_softened_and_is_scaled_by_t_squared(rng):
    teacher, student = _probabilities(rng, 12, 2.0), _probabilities(rng, 12)
    labels = rng.integers(0, 10, 12)
    t = 3.0

    def softened(p):
        q = p ** (1 / t)
        return q / q.sum(axis=1, keepdims=True)

    kl = (softened(teacher) * (np.log(softened(teacher)) - np.log(softened(student)))).sum(1)
    np.testing.assert_allclose(_loss(_targets(labels, teacher), student, t, 0.0), t * t * kl,
                               rtol=1e-4, atol=1e-5)
    hard = -np.log(student[np.arange(12), labels])
    np.testing.assert_allclose(_loss(_targets(labels, teacher), student, t, 0.25),
                               0.25 * hard + 0.75 * t * t * kl, rtol=1e-4, atol=1e-5)


def test_the_hard_part_pulls_non_digits_towards_uniform_and_ignores_the_teacher(rng):
    student = _probabilities(rng, 6)
    labels = np.array([3, NOT_A_DIGIT, 0, NOT_A_DIGIT, 9, 5])
    expected = np.where(labels >= 0, -np.log(student[np.arange(6), np.maximum(labels, 0)]),
                        -np.log(student).mean(axis=1))
    for teacher in (_probabilities(rng, 6), np.full((6, 10), 0.1, np.float32)):
        np.testing.assert_allclose(_loss(_targets(labels, teacher), student, 2.0, 1.0),
                                   expected, rtol=1e-4, atol=1e-5)
    accuracy = DigitAccuracy()  # counts the four digits, by the label column
    guesses = np.eye(10, dtype=np.float32)[[3, 1, 7, 2, 9, 0]]
    accuracy.update_state(tf.constant(_targets(labels, _probabilities(rng, 6))), guesses)
    assert float(accuracy.result()) == pytest.approx(2 / 4)


@pytest.mark.parametrize("temperature, alpha", [(0.0, 0.5), (-1.0, 0.5), (2.0, 1.5),
                                                (2.0, -0.1)])
def test_bad_temperature_or_alpha_is_refused(temperature, alpha):
    with pytest.raises(ValueError, match="temperature|alpha"):
        distillation_loss(temperature, alpha)


def test_the_fitted_targets_are_the_teachers_reading_of_the_unaugmented_images(
        teacher_store, mnist_subset):
    teacher = registry.open_model("teacher", teacher_store)
    calls = []

    def read(images):
        calls.append(len(images))
        return predict_proba(teacher, images)

    cfg = TrainConfig(**TEACHER_RECIPE | {"augment": False}).resolved()
    run = prepare_run(cfg, mnist_subset[0], SoftTargets(read, distillation_loss(2.0, 0.5)))
    assert calls == [run.n_fit + cfg.non_digits]  # read once, in one pass
    batches = [(x.numpy(), y.numpy()) for x, y in run.train_ds]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches])
    assert y.shape == (run.n_fit + cfg.non_digits, 11)
    assert (y[:, 0] == NOT_A_DIGIT).sum() == cfg.non_digits
    np.testing.assert_allclose(y[:, 1:], predict_proba(teacher, x), atol=1e-6)
    assert run.val_data[1].ndim == 1  # validation keeps its labels for calibration


def test_a_student_is_saved_naming_its_teacher_and_reads_alike_in_onnx_and_keras(
        teacher_store, mnist_subset, tmp_path):
    store = tmp_path / "store"
    for suffix in (".keras", ".onnx", ".json"):
        (store / f"teacher{suffix}").parent.mkdir(exist_ok=True)
        (store / f"teacher{suffix}").write_bytes((teacher_store / f"teacher{suffix}").read_bytes())
    result = distill("teacher", "student", data=mnist_subset, temperature=3.0, alpha=0.25,
                     changes={"epochs": 1}, models_dir=store)
    card = registry.read_card("student", store)
    assert card.distillation | {} == {"teacher": "teacher", "teacher_architecture":
                                      "mlp-16-16-relu", "teacher_params": 13002,
                                      "temperature": 3.0, "alpha": 0.25}
    teacher_card = registry.read_card("teacher", store)
    recipe = teacher_card.hyperparameters | {"epochs": 1}
    assert card.hyperparameters == recipe  # the teacher's recipe: its split, its data
    assert card.val_images == teacher_card.val_images == 40
    assert card.reading.fitted_on == "40 validation images of this training run"
    assert len(card.history.val_loss) == 1 and card.test_accuracy is not None
    images = prepare_mnist(mnist_subset[1][0][:64])
    onnx = predict_proba(registry.open_model("student", store), images)
    keras_read = predict_proba(registry.load_model("student", store), images)
    np.testing.assert_allclose(onnx, keras_read, atol=1e-5)
    np.testing.assert_allclose(keras_read, predict_proba(result.model, images), atol=1e-5)


def test_the_command_line_distils_and_refuses_a_model_without_a_recipe(
        teacher_store, tmp_path, capsys):
    from tests.conftest import SUBSET_DIR

    for suffix in (".keras", ".onnx", ".json"):
        (tmp_path / f"teacher{suffix}").write_bytes((teacher_store / f"teacher{suffix}")
                                                    .read_bytes())
    args = ["--models-dir", str(tmp_path), "--data-dir", str(SUBSET_DIR), "distill",
            "--teacher", "teacher", "--name", "pupil", "--epochs", "1", "--alpha", "0.7"]
    assert main(args) == 0, capsys.readouterr().err
    assert "saved pupil: validation" in capsys.readouterr().out
    assert registry.read_card("pupil", tmp_path).distillation["alpha"] == 0.7
    assert main([*args[:-2], "--alpha", "2"]) == 2
    assert "alpha must be in [0, 1], got 2.0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="no recorded training settings"):
        teacher_recipe(ModelCard(name="hand-made"))
