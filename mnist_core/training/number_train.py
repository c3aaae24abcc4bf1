"""Train a whole-number reader (`number-ctc`) with the CTC loss on numbers composed
afresh for every epoch, as `train.train_model` does for a run of that architecture:

    train_model(TrainConfig("number-ctc", epochs=8), save_as="number-ctc")

Each epoch fits `numbers_per_epoch` numbers (`number_data`: MNIST training digits and
the run's pen writers' strokes, spaced and touching, a few non-numbers), composed from
the run's seed and the epoch on a thread beside the training. The run's other pen
writers (26-30 by default) are never fitted: numbers in their hands validate (choose
the epoch, fit the "not sure" threshold) and test (the card's accuracy: numbers read
exactly). The card says it reads numbers (`task`: NUMBER), and the model is saved
without MNIST test readings or a layers graph, which are for digit readers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mnist_core.errors import TrainingStopped
from mnist_core.model.card import NUMBER
from mnist_core.model.number_network import NUMBER_INPUT_SHAPE
from mnist_core.reading.number_input import NUMBER_PREPROCESS_VERSION
from mnist_core.sources.pendigits import load_pendigits
from mnist_core.store import saving
from mnist_core.training.architectures import get_architecture
from mnist_core.training.config import NUMBER_PEN_WRITERS, TrainConfig
from mnist_core.training.models import build_network
from mnist_core.training.monitor import RunMonitor, TrainResult
from mnist_core.training.number_data import (
    MAX_DIGITS,
    NumberBatch,
    NumberComposer,
    compose_batch,
    held_out_numbers,
)
from mnist_core.training.number_eval import fitted_on, number_reading, score_readings
from mnist_core.training.objective import compile_number_reader
from mnist_core.training.run_card import run_card, writer_ranges

TRAIN_SAMPLE = 1000  # fitted numbers read again after each epoch: its train accuracy


@dataclass(frozen=True)
class NumberRunData:
    """What a number run composes from and scores on."""

    composer: NumberComposer
    writers: tuple[int, ...]  # the pen writers it fits
    held_out: tuple[int, ...]  # the pen writers it validates and tests on
    val: NumberBatch
    test: NumberBatch
    train_sample: NumberBatch


def number_run_data(cfg: TrainConfig, train_data) -> NumberRunData:
    """The composer of a resolved config's numbers, and its held-out numbers in the
    held-out writers' hands (`number_data.held_out_numbers`)."""
    writers = tuple(cfg.pen_writers or NUMBER_PEN_WRITERS)
    held_out = tuple(w for w in range(1, 31) if w not in writers)
    if not held_out:
        raise ValueError("a number reader's run holds some pen writers out to validate on: "
                         "choose fewer than all 30")
    x_train, y_train = train_data
    if cfg.train_size is not None:
        x_train, y_train = x_train[:cfg.train_size], y_train[:cfg.train_size]
    digits = load_pendigits()
    composer = NumberComposer((x_train, y_train), [d for d in digits if d.writer in writers])
    val, test = held_out_numbers(digits, held_out, numbers_per_epoch=cfg.numbers_per_epoch,
                                 validation_split=cfg.validation_split, seed=cfg.seed)
    return NumberRunData(
        composer, writers, held_out, val, test,
        train_sample=compose_batch(composer, min(TRAIN_SAMPLE, cfg.numbers_per_epoch),
                                   np.random.default_rng([cfg.seed, 10**6])),
    )


def epoch_batches(composer: NumberComposer, cfg: TrainConfig) -> tf.data.Dataset:
    """Batches of `numbers_per_epoch` numbers a pass, passes without end (an epoch is
    one: `ceil(numbers_per_epoch / batch_size)` batches), composed on a thread as they
    are fitted; the numbers of each pass are new, and the same for the same seed."""
    passes = iter(range(10**9))

    def numbers():
        rng = np.random.default_rng([cfg.seed, next(passes)])
        left = cfg.numbers_per_epoch
        while left > 0:
            batch = compose_batch(composer, min(cfg.batch_size, left), rng)
            left -= len(batch.images)
            yield batch.images, batch.targets()

    signature = (tf.TensorSpec((None, *NUMBER_INPUT_SHAPE), tf.float32),
                 tf.TensorSpec((None, 1 + MAX_DIGITS), tf.int32))
    return tf.data.Dataset.from_generator(numbers, output_signature=signature).repeat(
    ).prefetch(4)


class NumberMonitor(RunMonitor):
    """Scores a number reader after each epoch: the share of numbers read exactly of
    a sample of those fitted, the validation numbers and the test numbers."""

    def __init__(self, data: NumberRunData, *args):
        super().__init__((data.test.images, data.test.targets()), *args)
        self.data = data

    def scores(self, logs: dict) -> dict:
        read = {name: self.model.predict(batch.images, batch_size=256, verbose=0)
                for name, batch in (("train", self.data.train_sample), ("val", self.data.val),
                                    ("test", self.data.test))}
        test_loss = self.model.evaluate(*self.test_data, batch_size=256, verbose=0)
        return {
            "loss": logs.get("loss"), "val_loss": logs.get("val_loss"), "test_loss": test_loss,
            "accuracy": score_readings(read["train"], self.data.train_sample.texts).exact,
            "val_accuracy": score_readings(read["val"], self.data.val.texts).exact,
            "test_accuracy": score_readings(read["test"], self.data.test.texts).exact,
        }


def train_number_model(cfg: TrainConfig, *, data, save_as=None, models_dir=None,
                       progress=None, stop_event=None, callbacks=None,
                       progress_interval: float = 0.5, overwrite: bool = False,
                       card_extra: dict | None = None) -> TrainResult:
    """A number reader's run, as `train.train_model` describes its arguments (`data`:
    MNIST as `load_mnist` gives it; only its training digits are composed). `cfg` must
    be resolved."""
    arch = get_architecture(cfg.architecture)
    run = number_run_data(cfg, data[0])
    keras.utils.set_random_seed(cfg.seed if cfg.init_seed is None else cfg.init_seed)
    model = build_network(arch.name)
    steps = math.ceil(cfg.numbers_per_epoch / cfg.batch_size)
    total = steps * cfg.epochs
    warmup = int(total * arch.warmup_share)
    rate = keras.optimizers.schedules.CosineDecay(
        cfg.learning_rate / 10, decay_steps=total - warmup, alpha=0.01,
        warmup_target=cfg.learning_rate, warmup_steps=warmup)
    compile_number_reader(model, rate)
    monitor = NumberMonitor(run, steps, cfg.epochs, progress, stop_event, progress_interval)
    started = time.perf_counter()
    model.fit(epoch_batches(run.composer, cfg), epochs=cfg.epochs, steps_per_epoch=steps,
              verbose=0, shuffle=False,  # every number is new: nothing to shuffle
              validation_data=(run.val.images, run.val.targets()),
              callbacks=[monitor, *(callbacks or [])])
    seconds = time.perf_counter() - started
    if monitor.best_weights is None:
        raise TrainingStopped("training was stopped before the first epoch finished")
    model.set_weights(monitor.best_weights)
    card = number_card(cfg, run, model, monitor, seconds).replace(**(card_extra or {}))
    if save_as is not None:
        card = card.replace(name=save_as)
        saving.save_model(model, save_as, card, directory=models_dir, overwrite=overwrite)
    return TrainResult(model=model, card=card, stopped=monitor.stopped)


def number_card(cfg, run: NumberRunData, model, monitor, seconds):
    """The run's card (`run_card`) as a number reader's: its task, what it was trained
    and scored on, and its "not sure" threshold, fitted on the validation numbers."""
    writers, unseen = writer_ranges(run.writers), writer_ranges(run.held_out)
    reading = number_reading(
        run.val, model.predict(run.val.images, batch_size=256, verbose=0),
        run.test, model.predict(run.test.images, batch_size=256, verbose=0),
        fitted_on(len(run.val.texts), unseen))
    mnist = (f"the first {cfg.train_size:,} MNIST training digits" if cfg.train_size
             else "MNIST training digits")
    return run_card(cfg, model, monitor, seconds, cfg.numbers_per_epoch, len(run.val.texts),
                    len(run.test.texts)).replace(
        task=NUMBER, reading=reading, pen_writers=list(run.writers),
        preprocess_version=NUMBER_PREPROCESS_VERSION,
        trained_on=(
            f"{cfg.numbers_per_epoch:,} numbers of 1-{MAX_DIGITS} digits an epoch, composed "
            f"afresh from {mnist} and pendigits writers {writers}' strokes drawn as the "
            "number pad draws them (spaced, touching and overlapping, slanted, uneven; "
            "a few letters, scribbles, shapes and doodles to read as nothing). Its "
            "accuracies are the shares of numbers read exactly; validation and test "
            f"numbers are in unseen writers {unseen}' hands. A number reader has no "
            "readings of MNIST test digits and no layers graph"),
    )
