"""A finished run's card: what was trained, on what, how it went epoch by epoch, and with
which versions; written with the model by `train.train_model`."""

from __future__ import annotations

import platform
import time
from dataclasses import asdict

import keras
import numpy as np
import tensorflow as tf

from mnist_core.model.card import ModelCard
from mnist_core.reading.preprocess import PREPROCESS_VERSION
from mnist_core.training.architectures import get_architecture
from mnist_core.training.config import TrainConfig
from mnist_core.training.run_data import non_digit_kinds


def run_card(cfg, model, monitor, seconds, n_fit, n_val, n_test) -> ModelCard:
    """The card that travels with a trained model: its recipe, its per-epoch history
    (`monitor.history`) and the best epoch's accuracies, what it was trained on, and the
    library versions that made it."""
    arch = get_architecture(cfg.architecture)
    best = monitor.best_epoch - 1
    history = monitor.history
    description = arch.description
    if cfg.start_from:
        description += f" (fitted further from model {cfg.start_from!r})"
    return ModelCard(
        architecture=arch.name,
        description=description,
        activation=arch.activation,
        params=int(model.count_params()),
        hyperparameters=asdict(cfg)
        | {"cosine_decay": arch.cosine_decay, "warmup_share": arch.warmup_share},
        history=history,
        epochs_run=len(history["loss"]),
        best_epoch=monitor.best_epoch,
        stopped_early=monitor.stopped,
        train_accuracy=history["accuracy"][best],
        val_accuracy=history["val_accuracy"][best],
        test_accuracy=history["test_accuracy"][best],
        training_seconds=round(seconds, 1),
        train_images=n_fit,
        val_images=n_val,
        test_images=n_test,
        trained_on=_training_data_description(cfg),
        pen_writers=list(cfg.pen_writers or []),
        preprocess_version=PREPROCESS_VERSION,
        versions={
            "keras": keras.__version__,
            "tensorflow": tf.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )


NON_DIGIT_WORDS = {"letter": "letters", "scribble": "scribbles", "pair": "digit pairs",
                   "shape": "shapes", "touching": "touching digits",
                   "fragment": "digits cut in two", "doodle": "doodles"}


def _training_data_description(cfg: TrainConfig) -> str:
    text = "MNIST training set"
    if cfg.train_size is not None:
        text = f"first {cfg.train_size} images of the MNIST training set"
    if cfg.pen_writers:
        text += (
            f" + pendigits pen-drawn digits of writers {writer_ranges(cfg.pen_writers)} "
            f"(rendered {cfg.pen_renders}x as the drawing pad draws them"
            + (", all but the first in other hands: flagged 1s, crossed 7s, open 4s, "
               "straight-tailed 9s, slant, stretch" if cfg.pen_styles else "")
            + ")"
        )
    if cfg.non_digits:
        kinds = ", ".join(NON_DIGIT_WORDS[kind] for kind in non_digit_kinds(cfg))
        text += f" + {cfg.non_digits:,} synthetic non-digits ({kinds})"
    return text


def writer_ranges(numbers) -> str:
    """'1-20, 25' for [1, ..., 20, 25]."""
    parts, start, prev = [], None, None
    for n in sorted(numbers):
        if start is None:
            start = prev = n
        elif n == prev + 1:
            prev = n
        else:
            parts.append(f"{start}-{prev}" if prev > start else str(start))
            start = prev = n
    parts.append(f"{start}-{prev}" if prev > start else str(start))
    return ", ".join(parts)
