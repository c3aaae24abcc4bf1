"""How well a whole-number reader reads composed numbers, and where its "not sure" lies:
without TensorFlow, from the reader's per-step probabilities (`number_reader.best_path`),
for training runs, benchmarks and tests alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnist_core.reading.number_reader import best_path, number_text

# A digit is named when the reader is at least this sure of it, the threshold chosen so
# that the digits it names in held-out numbers are right this often ...
NAMED_RIGHT_TARGET = 0.997
# ... but never marking more than this share of them `?`: past it, the reader is wrong
# where it is sure, and a higher threshold only hides digits it reads right.
MAX_UNNAMED = 0.03


@dataclass(frozen=True)
class NumberScores:
    """Readings of numbers against what was written: `exact` the share read exactly
    (no `?`); `digits` the share of written digits read right, 1 - the edits (digits
    misread, `?`, missed or added) over the digits written; `aligned` the share read
    with as many digits as written; `unnamed` the share of read digits marked `?`."""

    exact: float
    digits: float
    aligned: float
    unnamed: float


def score_texts(texts: Sequence[str], truths: Sequence[str]) -> NumberScores:
    """Score numbers read as `texts` (`?` for a digit not named) against `truths`."""
    n = max(len(texts), 1)
    edits = sum(edit_distance(text, truth) for text, truth in zip(texts, truths))
    return NumberScores(
        exact=sum(text == truth for text, truth in zip(texts, truths)) / n,
        digits=1 - edits / max(sum(len(truth) for truth in truths), 1),
        aligned=sum(len(text) == len(truth) for text, truth in zip(texts, truths)) / n,
        unnamed=sum(text.count("?") for text in texts) / max(sum(map(len, texts)), 1))


def score_readings(probabilities: np.ndarray, truths: Sequence[str],
                   min_probability: float = 0.0) -> NumberScores:
    """Score a number reader's `(N, T, CLASSES)` probabilities of `N` numbers."""
    return score_texts([number_text(best_path(rows), min_probability)
                        for rows in probabilities], truths)


def edit_distance(a: str, b: str) -> int:
    """The fewest digits to change, drop or add to turn `a` into `b` (Levenshtein)."""
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def digit_sureness(probabilities: np.ndarray, truths: Sequence[str]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each decoded digit's sureness and whether it is right, over the numbers read with
    as many digits as written (where each digit has its own written one to match)."""
    sureness, right = [], []
    for rows, truth in zip(probabilities, truths):
        digits = best_path(rows)
        if len(digits) != len(truth):
            continue
        for digit, written in zip(digits, truth):
            sureness.append(digit.sureness)
            right.append(str(digit.digit) == written)
    return np.asarray(sureness, dtype=np.float64), np.asarray(right, dtype=bool)


def fit_min_probability(sureness: np.ndarray, right: np.ndarray,
                        target: float = NAMED_RIGHT_TARGET,
                        max_unnamed: float = MAX_UNNAMED) -> float:
    """The lowest sureness threshold at which the digits named are right at least
    `target` of the time, never one that leaves more than `max_unnamed` of the digits
    unnamed; 0 when every digit may be named (no held-out digits: 0 too)."""
    if not len(sureness):
        return 0.0
    order = np.argsort(sureness)
    sure, ok = sureness[order], right[order]
    # named when sureness >= sure[k]: digits k.. ; wrong among them, for each k
    wrong_from = np.cumsum((~ok)[::-1])[::-1]
    named = len(sure) - np.arange(len(sure))
    precision = 1 - wrong_from / named
    limit = int(np.floor(max_unnamed * len(sure)))
    # naming from sure[k] up names every digit that sure: only a first of equals is a cut
    cuts = [k for k in range(limit + 1) if k == 0 or sure[k] > sure[k - 1]]
    for k in cuts:
        if precision[k] >= target:
            return 0.0 if k == 0 else float(sure[k])
    return float(sure[cuts[-1]]) if cuts[-1] else 0.0
