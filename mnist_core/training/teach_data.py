"""What a teach run fits, reads unseen and is calibrated on, without TensorFlow: the
replayed digits (MNIST digits and pen writers' digits the base fitted), the MNIST digits
the base held out of its own training (its reading policy is fitted on those), which
kept drawings each fit holds out, and the labels as a run fits them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mnist_core.model.card import ModelCard
from mnist_core.sources.drawings_file import NOT_A_DIGIT as KEPT_NOT_A_DIGIT
from mnist_core.training.config import (
    CROSS_VALIDATE_BELOW,
    FOLDS,
    HOLD_OUT_SHARE,
    MNIST_TRAIN_IMAGES,
    TeachConfig,
    TrainConfig,
)
from mnist_core.training.models import NOT_A_DIGIT
from mnist_core.training.run_data import split_indices

CALIBRATION_DIGITS = 2000  # MNIST digits the base held out, to fit the reading policy on


@dataclass(frozen=True)
class HeldOutPlan:
    """Which drawings each run fits and which it reads unseen: one `(fitted, held
    out)` pair of index arrays per run; with `refit`, a last run fits every drawing and
    is the one saved, else the single run's model is."""

    folds: list[tuple[np.ndarray, np.ndarray]]
    refit: bool

    @property
    def runs(self) -> int:
        return len(self.folds) + self.refit


def training_labels(labels: np.ndarray) -> np.ndarray:
    """Kept labels as a run fits them: digits as they are, "not a digit" as
    `models.NOT_A_DIGIT` (taught as unsure of every digit)."""
    labels = np.asarray(labels, dtype=np.int32)
    return np.where(labels == KEPT_NOT_A_DIGIT, NOT_A_DIGIT, labels).astype(np.int32)


def mnist_indices(card: ModelCard, n_train: int, config: TeachConfig
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Indices of MNIST training digits: `config.replay` the base fitted, to replay, and
    up to `CALIBRATION_DIGITS` it held out for validation, to fit the reading policy on
    (a random share where its card does not say which it held out)."""
    rng = np.random.default_rng(config.seed)
    held = base_validation(card, n_train)
    if held is None or len(held) < 100:
        held = rng.permutation(n_train)[: min(CALIBRATION_DIGITS, n_train // 5)]
    calibration = np.sort(rng.permutation(held)[:CALIBRATION_DIGITS])
    fitted = np.setdiff1d(np.arange(n_train), held)
    replay = np.sort(rng.choice(fitted, min(config.replay, len(fitted)), replace=False))
    return replay, calibration


def pen_replay(card: ModelCard, config: TeachConfig) -> tuple[np.ndarray, np.ndarray]:
    """`config.pen_replay` digits of the pen writers the base fitted, drawn once each as
    the pad draws them (`(N, 28, 28)` prepared, labels); none for a base that fitted no
    writer's, or where the pendigits file is not on this machine."""
    from mnist_core.sources.pendigits import (
        drawn_training_set,
        load_pendigits,
        pendigits_available,
    )

    writers = set(card.pen_writers or [])
    if not (writers and config.pen_replay and pendigits_available()):
        return np.zeros((0, 28, 28), np.float32), np.zeros(0, np.int32)
    digits = [digit for digit in load_pendigits() if digit.writer in writers]
    rng = np.random.default_rng(config.seed)
    chosen = rng.choice(len(digits), min(config.pen_replay, len(digits)), replace=False)
    images, labels = drawn_training_set([digits[i] for i in sorted(chosen)], renders=1,
                                        seed=config.seed)
    return images, labels.astype(np.int32)


def base_validation(card: ModelCard, n_train: int) -> np.ndarray | None:
    """The MNIST digits the base's training run held out for validation, found again
    from its card (`run_data.split_indices`); None where the card cannot say."""
    if not card.hyperparameters:  # its split's seed and share are not known
        return None
    try:
        cfg = TrainConfig.from_card(card.hyperparameters)
    except (TypeError, ValueError):
        return None
    n = (card.train_images or 0) + (card.val_images or 0)
    # its MNIST digits came first, then its pen writers' (a run with writers read all of
    # MNIST's training digits unless told fewer)
    n_mnist = min(cfg.train_size or (MNIST_TRAIN_IMAGES if cfg.pen_writers else n), n)
    if not card.val_images or round(n * cfg.validation_split) != card.val_images \
            or n_mnist > n_train or n < n_mnist:
        return None
    held, _ = split_indices(n, cfg, n - n_mnist)
    return np.sort(held[held < n_mnist])


def held_out_plan(labels: np.ndarray, seed: int = 0) -> HeldOutPlan:
    """Which drawings each run holds out. From `CROSS_VALIDATE_BELOW` drawings on, one
    run holds out a `HOLD_OUT_SHARE`, spread over the labels and never a label's last
    drawing; below, each of `FOLDS` runs holds out one fold (every label spread over
    the folds) and a last run fits them all."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    by_label = [rng.permutation(np.flatnonzero(labels == label)) for label in np.unique(labels)]
    if n >= CROSS_VALIDATE_BELOW:
        wanted = math.ceil(HOLD_OUT_SHARE * n)
        held: list[int] = []
        by_label.sort(key=len, reverse=True)
        for depth in range(max(map(len, by_label))):
            for indices in by_label:
                if len(held) < wanted and depth < len(indices) - 1:
                    held.append(int(indices[depth]))
        held_idx = np.sort(np.array(held, dtype=np.int64))
        return HeldOutPlan([(np.setdiff1d(np.arange(n), held_idx), held_idx)], refit=False)
    fold = np.empty(n, dtype=np.int64)
    fold[np.concatenate(by_label)] = np.arange(n) % FOLDS
    return HeldOutPlan([(np.flatnonzero(fold != k), np.flatnonzero(fold == k))
                        for k in range(FOLDS)], refit=True)
