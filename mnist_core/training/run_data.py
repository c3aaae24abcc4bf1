"""The images a training run fits and validates on: its MNIST training images, its
pendigits writers' digits drawn as the pad draws them, synthetic non-digits, and the
random validation split (whole drawn digits to one side).

No Keras or TensorFlow here: calibration, ensembles and the benchmarks find a run's
validation digits again without loading a network library.
"""

from __future__ import annotations

import numpy as np

from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.training.config import TrainConfig


def training_digits(cfg: TrainConfig, train_data: tuple[np.ndarray, np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray, int]:
    """The digits a run fits and validates on, prepared: its MNIST training images,
    then its pendigits writers' digits drawn as the pad draws them; and how many of
    them (the last) are those drawings."""
    x_train, y_train = train_data
    if cfg.train_size is not None:
        x_train, y_train = x_train[: cfg.train_size], y_train[: cfg.train_size]
    x_train = prepare_mnist(x_train)
    n_drawn = 0
    if cfg.pen_writers:
        x_pen, y_pen = pen_drawn_digits(cfg)
        x_train = np.concatenate([x_train, x_pen])
        y_train = np.concatenate([y_train, y_pen])
        n_drawn = len(x_pen)
    return x_train, y_train.astype(np.int32), n_drawn


def validation_digits(cfg: TrainConfig, train_data: tuple[np.ndarray, np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The digits a run with these settings (resolved) held out for validation: what
    its reading policy may be fitted on again later, never its test set."""
    x_train, y_train, n_drawn = training_digits(cfg, train_data)
    val_idx, _ = split_indices(len(x_train), cfg, n_drawn)
    return x_train[val_idx], y_train[val_idx]


def split_indices(n: int, cfg: TrainConfig, n_drawn: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(validation, fit) indices of `n` training images, a random split with `cfg.seed`.

    The last `n_drawn` images are pen-drawn digits, `cfg.pen_renders` renders of each in
    a row; with `cfg.split_drawings` each digit's renders go to the same side, and
    validation gets whole digits until it holds `validation_split` of the images.
    Calibration finds a model's validation images again through this.
    """
    rng = np.random.default_rng(cfg.seed)
    n_val = int(round(n * cfg.validation_split))
    if not (cfg.split_drawings and n_drawn):
        order = rng.permutation(n)
        return order[:n_val], order[n_val:]
    n_single = n - n_drawn
    group = np.concatenate([np.arange(n_single),
                            n_single + np.arange(n_drawn) // cfg.pen_renders])
    order = rng.permutation(group[-1] + 1)
    filled = np.cumsum(np.bincount(group)[order])
    held_out = np.zeros(len(order), dtype=bool)
    held_out[order[: int(np.searchsorted(filled, n_val)) + 1 if n_val else 0]] = True
    in_val = held_out[group]
    return np.flatnonzero(in_val), np.flatnonzero(~in_val)


def non_digit_drawings(cfg: TrainConfig) -> np.ndarray:
    """`cfg.non_digits` synthetic non-digits, prepared like pad drawings. Pairs of digits
    come only from the pendigits writers the run trains on (none: no pairs)."""
    from mnist_core.reading.preprocess import canvas_to_mnist
    from mnist_core.sources.pendigits import load_pendigits
    from mnist_core.training.negatives import non_digits

    digits = None
    if cfg.pen_writers:
        digits = [d for d in load_pendigits() if d.writer in set(cfg.pen_writers)]
    images, _ = non_digits(cfg.non_digits, seed=cfg.seed + 1000, kinds=non_digit_kinds(cfg),
                           digits=digits)
    return np.stack([canvas_to_mnist(image) for image in images])


def non_digit_kinds(cfg: TrainConfig) -> tuple[str, ...]:
    """The kinds of non-digits a run fits: those needing pen-drawn digits only with some."""
    from mnist_core.training.config import KINDS, NEEDS_DIGITS

    kinds = cfg.non_digit_kinds or KINDS
    return kinds if cfg.pen_writers else tuple(k for k in kinds if k not in NEEDS_DIGITS)


def pen_drawn_digits(cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The chosen pendigits writers' digits, rendered and prepared like pad drawings."""
    from mnist_core.sources.pendigits import drawn_training_set, load_pendigits

    writers = set(cfg.pen_writers)
    digits = [d for d in load_pendigits() if d.writer in writers]
    return drawn_training_set(
        digits, renders=cfg.pen_renders, seed=cfg.seed, styles=cfg.pen_styles
    )
