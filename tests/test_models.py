"""`mnist_core.training.models`: every digit architecture takes 28x28 images and gives 10
probabilities; the whole-number reader maps a number's image to per-step probabilities."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.model.card import DIGIT
from mnist_core.model.number_network import NUMBER_INPUT_SHAPE, NUMBER_OUTPUT_SHAPE
from mnist_core.training.architectures import ARCHITECTURES, get_architecture
from mnist_core.training.models import BUILDERS, NOT_A_DIGIT, build_model
from mnist_core.training.objective import DigitAccuracy, ctc_loss, digit_or_uniform_loss

SEED_PARAMS = {
    "mlp-16-16-sigmoid": 784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10,
    "mlp-16-16-relu": 784 * 16 + 16 + 16 * 16 + 16 + 16 * 10 + 10,
    "mlp-64-64-relu": 784 * 64 + 64 + 64 * 64 + 64 + 64 * 10 + 10,
    "mlp-784-784-256-128-relu": 784 * 784 + 784 + 784 * 256 + 256 + 256 * 128 + 128
    + 128 * 10 + 10,
}


@pytest.mark.parametrize("name", [name for name, arch in ARCHITECTURES.items()
                                  if arch.task == DIGIT])
def test_architecture_maps_images_to_probabilities(name):
    model = build_model(name)
    assert model.input_shape == (None, 28, 28)
    assert model.output_shape == (None, 10)
    assert model.loss == "sparse_categorical_crossentropy"
    out = model(np.random.default_rng(0).random((3, 28, 28), dtype=np.float32), training=False)
    np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1.0, atol=1e-5)


def test_the_number_reader_maps_a_number_to_steps_and_learns_by_ctc():
    model = build_model("number-ctc")
    assert model.input_shape[1:] == NUMBER_INPUT_SHAPE
    assert model.output_shape[1:] == NUMBER_OUTPUT_SHAPE
    assert model.loss is ctc_loss
    out = np.asarray(model(np.zeros((2, *NUMBER_INPUT_SHAPE), np.float32), training=False))
    np.testing.assert_allclose(out.sum(axis=2), 1.0, atol=1e-5)
    # the CTC loss of a path the network is sure of is near 0; of another, large
    sure = np.full((1, *NUMBER_OUTPUT_SHAPE), 1e-6, np.float32)
    sure[0, :, 10] = 1.0
    sure[0, 3, 4] = sure[0, 9, 2] = 1.0
    sure[0, [3, 9], 10] = 1e-6
    targets = np.array([[2, 4, 2, 0, 0, 0, 0, 0, 0], [2, 2, 4, 0, 0, 0, 0, 0, 0]], np.int32)
    losses = np.asarray(ctc_loss(targets, np.concatenate([sure, sure])))
    assert losses[0] < 0.01 and losses[1] > 10


@pytest.mark.parametrize("name, params", SEED_PARAMS.items())
def test_seed_mlps_have_the_seed_shapes(name, params):
    assert build_model(name).count_params() == params


def test_default_cnn_uses_batch_norm_and_dropout():
    kinds = {type(layer).__name__ for layer in build_model("cnn").layers}
    assert {"Conv2D", "BatchNormalization", "Dropout", "MaxPooling2D"} <= kinds
    seed_kinds = [type(layer).__name__ for layer in build_model("seed-cnn").layers]
    assert seed_kinds.count("Conv2D") == 1 and "Dropout" in seed_kinds


def test_unknown_architecture_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown architecture 'resnet'.*seed-cnn"):
        get_architecture("resnet")


def test_non_digit_loss_is_cross_entropy_for_digits_and_to_uniform_otherwise():
    probabilities = np.array([[0.7] + [0.3 / 9] * 9, [0.1] * 10], dtype=np.float32)
    labels = np.array([0, NOT_A_DIGIT])
    loss = np.asarray(digit_or_uniform_loss(labels, probabilities))
    np.testing.assert_allclose(loss, [-np.log(0.7), np.log(10)], rtol=1e-5)
    metric = DigitAccuracy()
    metric.update_state(np.array([0, 3, NOT_A_DIGIT]), np.eye(10)[[0, 2, 5]])
    assert float(metric.result()) == 0.5  # one of the two digits; the non-digit not counted


def test_every_architecture_has_a_network_and_only_those():
    assert set(BUILDERS) == set(ARCHITECTURES)
