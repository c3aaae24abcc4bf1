"""The verdict on a reading: a digit, "not sure, maybe a or b", or "not a digit".

This is the one place that decides what the app says of a drawing. A model's softmax is
first scaled by its calibrated temperature (`ReadingPolicy`, fitted by
`mnist_core.training.calibration` and stored on the model's card); a digit is named only where its
probability reaches the policy's threshold. Where none is named, the drawing is "not
sure" when two digits hold most of the belief, and "not a digit" when the belief is
spread (a model taught non-digits spreads it over all ten). The pages, the number
reader, the CLI and the benchmarks only put a `Verdict` into words or count them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

import numpy as np

NOT_NAMED = -1  # the digit of a reading the app will not name
# Before a model is calibrated: name the top digit from this probability up.
DEFAULT_MIN_PROBABILITY = 0.6
# Where no digit is named and the two likeliest digits hold less than this share of the
# belief between them, the drawing is no digit at all rather than "maybe this or that".
TWO_DIGITS_AT_LEAST = 0.75


@dataclass(frozen=True)
class ReadingPolicy:
    """How a model's outputs become a verdict: the temperature its probabilities are
    scaled by, and the least top probability at which a digit is named."""

    temperature: float = 1.0
    min_probability: float = DEFAULT_MIN_PROBABILITY

    def __post_init__(self):
        if not (math.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if not 0.0 <= self.min_probability <= 1.0:
            raise ValueError(f"min_probability must lie in [0, 1], got {self.min_probability}")

    def calibrate(self, probabilities: np.ndarray) -> np.ndarray:
        """The model's `(N, 10)` probabilities scaled by this policy's temperature."""
        return temper(probabilities, self.temperature)

    def named_digits(self, calibrated: np.ndarray) -> np.ndarray:
        """The digit named for each row of calibrated `(N, 10)` probabilities, or
        `NOT_NAMED` where the top probability falls short of the threshold."""
        calibrated = np.asarray(calibrated)
        digits = calibrated.argmax(axis=1).astype(np.int64)
        digits[calibrated.max(axis=1, initial=0.0) < self.min_probability] = NOT_NAMED
        return digits


def temper(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax probabilities with their logits divided by `temperature` (rows sum to 1)."""
    p = np.asarray(probabilities, dtype=np.float64)
    if temperature == 1.0:
        return p.astype(np.float32)
    logits = np.log(np.clip(p, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=1, keepdims=True)).astype(np.float32)


class Kind(Enum):
    DIGIT = "digit"
    NOT_SURE = "not sure"
    NOT_A_DIGIT = "not a digit"


@dataclass(frozen=True)
class Verdict:
    """What the app says of one drawing: its `kind`, the two likeliest digits
    (`candidates`, likeliest first) and their calibrated probabilities."""

    kind: Kind
    candidates: tuple[int, int]
    probabilities: tuple[float, float]

    @property
    def digit(self) -> int | None:
        """The digit named, or None where the app names none."""
        return self.candidates[0] if self.kind is Kind.DIGIT else None


def judge(calibrated: np.ndarray, named: int) -> Verdict:
    """The verdict on one row of calibrated `(10,)` probabilities, given the digit the
    policy named for it (`ReadingPolicy.named_digits`; `NOT_NAMED` for none)."""
    p = np.asarray(calibrated, dtype=np.float64).reshape(-1)
    if p.shape != (10,) or not np.isfinite(p).all():
        raise ValueError(f"expected 10 finite probabilities, got shape {p.shape}")
    first, second = (int(i) for i in np.argsort(p)[::-1][:2])
    top_two = (float(p[first]), float(p[second]))
    if named != NOT_NAMED:
        kind = Kind.DIGIT
    elif sum(top_two) >= TWO_DIGITS_AT_LEAST:
        kind = Kind.NOT_SURE
    else:
        kind = Kind.NOT_A_DIGIT
    return Verdict(kind, (first, second), top_two)
