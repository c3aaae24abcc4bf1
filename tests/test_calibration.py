"""`mnist_core.training.calibration`: fitting the temperature and threshold, ECE;
read_digits uses them."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core.model.card import ModelCard
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.model.verdict import NOT_NAMED, ReadingPolicy, temper
from mnist_core.reading.inference import read_digits
from mnist_core.store import registry, saving
from mnist_core.training import calibration
from mnist_core.training.models import build_model


def softmax(logits):
    z = np.exp(logits - logits.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


@pytest.fixture
def overconfident(rng):
    """Probabilities twice as sharp as the truth: labels drawn from softmax(z / 2), the
    model says softmax(z)."""
    logits = rng.normal(0, 6, size=(20_000, 10))
    truth = softmax(logits / 2.0)
    labels = np.array([rng.choice(10, p=row) for row in truth])
    return softmax(logits), labels, truth


def test_temper_keeps_the_ranking_and_sums_to_one(rng):
    p = softmax(rng.normal(size=(50, 10)))
    for t in (0.5, 1.0, 3.0):
        scaled = temper(p, t)
        np.testing.assert_allclose(scaled.sum(axis=1), 1.0, atol=1e-5)
        assert (scaled.argmax(axis=1) == p.argmax(axis=1)).all()
    assert (temper(p, 3.0).max(axis=1) < p.max(axis=1)).all()  # softer


def test_fitted_temperature_undoes_overconfidence_and_lowers_ece(overconfident):
    p, labels, truth = overconfident
    t = calibration.fit_temperature(p, labels)
    assert t == pytest.approx(2.0, rel=0.08)
    before = calibration.expected_calibration_error(p, labels)
    after = calibration.expected_calibration_error(temper(p, t), labels)
    assert before > 0.05 and after < 0.015
    assert calibration.expected_calibration_error(truth, labels) < 0.015


def test_threshold_meets_the_target_accuracy_on_the_digits_named(overconfident):
    p, labels, _ = overconfident
    policy = calibration.fit_policy(p, labels, target=0.95)
    scaled = temper(p, policy.temperature)
    named = scaled.max(axis=1) >= policy.min_probability
    assert 0.05 < named.mean() < 1.0
    assert (scaled.argmax(axis=1) == labels)[named].mean() >= 0.95
    looser = scaled.max(axis=1) >= policy.min_probability - 0.05
    assert (scaled.argmax(axis=1) == labels)[looser].mean() < 0.95  # the lowest such one


def test_read_digits_names_a_digit_only_above_the_models_threshold(rng, tmp_path):
    model = build_model("mlp-16-16-relu")
    images = rng.random((40, 28, 28), dtype=np.float32)
    everything = read_digits(LoadedModel.bare(model, ReadingPolicy(1.0, 0.0)), images)
    assert (everything.digits == everything.probabilities.argmax(axis=1)).all()
    top = everything.probabilities.max(axis=1)
    middle = float(np.median(top))
    some = read_digits(LoadedModel.bare(model, ReadingPolicy(1.0, middle)), images)
    assert ((some.digits == NOT_NAMED) == (top < middle)).all()
    assert read_digits(LoadedModel.bare(model), images[0]).digits.shape == (1,)

    # a model loaded from the store reads with its card's calibration
    reading = {"temperature": 2.0, "min_probability": 0.99}
    saving.save_model(model, "calibrated", ModelCard(reading=reading), directory=tmp_path)
    loaded = registry.load_model("calibrated", tmp_path)
    assert loaded.policy == ReadingPolicy(2.0, 0.99)
    softer = read_digits(loaded, images)
    assert (softer.probabilities.max(axis=1) < top + 1e-6).all()
    assert (softer.digits == NOT_NAMED).all()


def test_report_compares_raw_and_calibrated_and_counts_the_named(overconfident):
    p, labels, _ = overconfident
    policy = calibration.fit_policy(p, labels, target=0.95)
    report = calibration.report(p, labels, policy)
    assert report.ece < report.ece_raw
    assert report.accuracy_named >= 0.94 and 0 < report.named_share < 1
    assert report.reliability["count"].sum() == len(labels)
    never = calibration.report(p, labels, ReadingPolicy(policy.temperature, 1.0))
    assert never.accuracy_named is None or never.named_share < 0.01
