"""How well a whole-number reader reads composed numbers, and where its "not sure" lies:
without TensorFlow, from the reader's per-step probabilities (`number_reader.best_path`),
for training runs, benchmarks and tests alike. `calibrate_number_reader` fits a stored
reader's threshold again, through its ONNX graph, on the numbers its run held out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from mnist_core.model.card import NUMBER, ModelCard, Reading
from mnist_core.model.verdict import ReadingPolicy
from mnist_core.reading.number_reader import best_path, number_text
from mnist_core.training.number_data import NumberBatch

# A digit is named when the reader is at least this sure of it, the threshold chosen so
# that the digits it names in held-out numbers are right this often (each `?` costs a
# number read exactly: at 99.7% the shipped reader marked 1.1% of the validation
# numbers' digits, at 99.5% 0.4%, most of them right) ...
NAMED_RIGHT_TARGET = 0.995
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


def number_reading(val: NumberBatch, val_read: np.ndarray, test: NumberBatch,
                   test_read: np.ndarray, fitted_on: str,
                   target: float = NAMED_RIGHT_TARGET) -> Reading:
    """A number reader's card entry `reading`: its "not sure" threshold fitted on its
    validation numbers' probabilities (`val_read`), and what it does on both sets,
    spaced and touching apart (`held_out`)."""
    threshold = fit_min_probability(*digit_sureness(val_read, val.texts), target=target)
    held = {"validation": held_out_figures(val_read, val, threshold),
            "test": held_out_figures(test_read, test, threshold)}
    return Reading.fitted(ReadingPolicy(1.0, threshold), fitted_on, target, held)


def held_out_figures(probabilities: np.ndarray, batch: NumberBatch, threshold: float
                     ) -> dict:
    """Exact and per-digit accuracy of held-out numbers, spaced and touching apart."""
    figures = {}
    for name, rows in (("spaced", ~batch.close), ("touching", batch.close)):
        picked = np.flatnonzero(rows)
        scores = score_readings(probabilities[picked], [batch.texts[i] for i in picked],
                                threshold)
        figures[name] = {"numbers": len(picked), "exact": round(scores.exact, 4),
                         "digits_right": round(scores.digits, 4),
                         "digits_unnamed": round(scores.unnamed, 4)}
    return figures


def calibrate_number_reader(name: str, directory=None, target: float = NAMED_RIGHT_TARGET
                            ) -> ModelCard:
    """Fit a stored number reader's threshold again through its ONNX graph, on the
    validation numbers its run held out (found again from its card), and store the new
    `reading` on its card; returns the card."""
    from mnist_core.sources.pendigits import load_pendigits
    from mnist_core.store import registry, saving
    from mnist_core.training.config import TrainConfig
    from mnist_core.training.number_data import held_out_numbers
    from mnist_core.training.run_card import writer_ranges

    model = registry.open_model(name, directory)
    card = model.card
    if card.task != NUMBER:
        raise ValueError(f"model {name!r} reads single digits: calibrate it as one")
    cfg = TrainConfig.from_card(card.hyperparameters or {}).resolved()
    unseen = [w for w in range(1, 31) if w not in set(card.pen_writers or [])]
    val, test = held_out_numbers(load_pendigits(), unseen, seed=cfg.seed,
                                 numbers_per_epoch=cfg.numbers_per_epoch,
                                 validation_split=cfg.validation_split)
    reading = number_reading(val, model.network(val.images), test, model.network(test.images),
                             fitted_on(len(val.texts), writer_ranges(unseen)), target)
    card = card.replace(reading=reading)
    saving.write_card(name, card, directory)
    return card


def fitted_on(count: int, writers: str) -> str:
    """Where a number reader's threshold was fitted, in words."""
    return f"{count:,} validation numbers in unseen pen writers {writers}' hands"
