"""Honest confidence: temperature scaling, the "not sure" threshold, calibration error.

A network's softmax is often over-sure. Dividing its log-probabilities by a temperature
`T` fitted on held-out data (never the test set) makes the bars mean what they say;
the threshold under which the app will not name a digit is then chosen on the same
held-out data for a target accuracy on the digits it does name. Both travel on the
model's card as `reading`; `mnist_core.verdict` applies them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mnist_core.verdict import NOT_NAMED, ReadingPolicy, temper

# Of the digits the app names on a model's held-out validation data, this share must be
# right. It sits above the aim for people the model never saw (99.7%), who are read a
# little worse than the writers of its validation data; a higher target leaves more
# digits of written numbers unnamed (the measurements are in docs/results.md).
TARGET_SURE_ACCURACY = 0.998


def card_entry(policy: ReadingPolicy, fitted_on: str,
               target: float = TARGET_SURE_ACCURACY) -> dict:
    """A card's `reading`: the policy, the target it was fitted for, and on what."""
    return policy.to_dict() | {"target": target, "fitted_on": fitted_on}


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    p = np.asarray(probabilities, dtype=np.float64)
    picked = p[np.arange(len(p)), np.asarray(labels, dtype=np.int64)]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature in [0.25, 10] with the least negative log-likelihood on these
    held-out labels (golden-section search on log T; the loss is unimodal in T)."""
    low, high = math.log(0.25), math.log(10.0)
    ratio = (math.sqrt(5) - 1) / 2

    def loss(log_t: float) -> float:
        return negative_log_likelihood(temper(probabilities, math.exp(log_t)), labels)

    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    for _ in range(40):
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return float(math.exp((low + high) / 2))


def choose_min_probability(probabilities: np.ndarray, labels: np.ndarray,
                           target: float = TARGET_SURE_ACCURACY) -> float:
    """The lowest top-probability threshold at which the digits named (top probability
    at or above it) are right at least `target` of the time, on these held-out labels."""
    p = np.asarray(probabilities)
    top, right = p.max(axis=1), p.argmax(axis=1) == np.asarray(labels)
    order = np.argsort(-top)
    accuracy = np.cumsum(right[order]) / np.arange(1, len(order) + 1)
    ok = np.nonzero(accuracy >= target)[0]
    if len(ok) == 0:
        return 1.0
    # the longest run of most-confident readings that still meets the target
    return float(top[order][ok[-1]])


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> dict:
    """Per confidence bin (equal widths over [0, 1]): mean confidence, accuracy, count."""
    p = np.asarray(probabilities)
    confidence = p.max(axis=1)
    right = (p.argmax(axis=1) == np.asarray(labels)).astype(np.float64)
    index = np.minimum((confidence * bins).astype(int), bins - 1)
    counts = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(index, confidence, bins) / counts
        accuracy = np.bincount(index, right, bins) / counts
    return {"confidence": mean_confidence, "accuracy": accuracy, "count": counts}


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray,
                               bins: int = 15) -> float:
    """How far confidence is from accuracy, averaged over bins weighted by their size."""
    table = reliability(probabilities, labels, bins)
    counts = table["count"]
    used = counts > 0
    gaps = np.abs(table["confidence"][used] - table["accuracy"][used])
    return float((gaps * counts[used]).sum() / counts.sum())


def fit_policy(probabilities: np.ndarray, labels: np.ndarray,
               target: float = TARGET_SURE_ACCURACY) -> ReadingPolicy:
    """Temperature, then threshold, both fitted on the same held-out digits."""
    temperature = fit_temperature(probabilities, labels)
    scaled = temper(probabilities, temperature)
    return ReadingPolicy(temperature, choose_min_probability(scaled, labels, target))


@dataclass(frozen=True)
class CalibrationReport:
    """How a policy does on labelled digits it was not fitted on."""

    ece_raw: float  # of the probabilities as the model gives them
    ece: float  # after the policy's temperature
    named_share: float  # share of digits the app names
    accuracy_named: float | None  # share of those it names right
    reliability_raw: dict
    reliability: dict


def report(probabilities: np.ndarray, labels: np.ndarray, policy: ReadingPolicy,
           bins: int = 15) -> CalibrationReport:
    """ECE before and after the temperature, coverage and accuracy of the named digits,
    and both reliability tables (for the Evaluate page's diagram)."""
    scaled = policy.calibrate(probabilities)
    named = policy.named_digits(scaled) != NOT_NAMED
    right = scaled.argmax(axis=1) == np.asarray(labels)
    return CalibrationReport(
        ece_raw=expected_calibration_error(probabilities, labels, bins),
        ece=expected_calibration_error(scaled, labels, bins),
        named_share=float(named.mean()),
        accuracy_named=float(right[named].mean()) if named.any() else None,
        reliability_raw=reliability(probabilities, labels, bins),
        reliability=reliability(scaled, labels, bins),
    )
