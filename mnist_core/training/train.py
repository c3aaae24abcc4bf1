"""Train a model on MNIST with per-epoch history, progress reports and a stop switch.

`train_model` is what a training job's process and the CLI both call:

    result = train_model(TrainConfig("fast-cnn"), save_as="my-fast-cnn")

It records train/validation/test accuracy and loss after every epoch, reports progress
through a callback (throttled, so the UI never slows training down), stops after the
current batch when `stop_event` is set (keeping the best weights so far) and saves
through the model store, atomically. With `soft_targets` it trains a student on a
teacher's probabilities beside the labels (`mnist_core.training.distill`). With
`TrainConfig.start_from` it fits a stored model's network further instead of a fresh one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from mnist_core.errors import TrainingStopped
from mnist_core.model.card import ModelCard
from mnist_core.reading.inference import predict_proba
from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.sources.data import load_mnist
from mnist_core.store import registry, saving
from mnist_core.training.architectures import get_architecture
from mnist_core.training.augment import augment_batch
from mnist_core.training.calibration import card_entry, fit_policy
from mnist_core.training.config import TrainConfig
from mnist_core.training.models import NOT_A_DIGIT, build_network
from mnist_core.training.objective import compile_model
from mnist_core.training.run_card import run_card
from mnist_core.training.run_data import (
    non_digit_drawings,
    split_indices,
    training_digits,
)

HISTORY_KEYS = (
    "loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
    "epoch_seconds", "test_seconds",
)


@dataclass
class Progress:
    """A snapshot of a running training, handed to the progress callback."""

    epoch: int  # 1-based epoch in progress (or just finished)
    epochs: int
    step: int  # batches done in this epoch
    steps: int
    elapsed: float
    history: dict[str, list[float]] = field(default_factory=dict)
    epoch_finished: bool = False

    @property
    def fraction(self) -> float:
        """Share of the whole run done, 0-1."""
        done = (self.epoch - 1) * self.steps + self.step
        return min(1.0, done / max(1, self.epochs * self.steps))

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far, or None before there is a pace."""
        if self.fraction <= 0:
            return None
        return self.elapsed * (1 - self.fraction) / self.fraction

    def epoch_line(self) -> str:
        """The finished epoch in one line (loss, accuracies, seconds): what command-line
        runs print, so that a long run shows how it is going."""
        h = self.history
        val = h["val_accuracy"][-1]
        return (f"epoch {self.epoch}/{self.epochs}  loss {h['loss'][-1]:.4f}  "
                f"acc {h['accuracy'][-1]:.4f}  val {'-' if val is None else f'{val:.4f}'}  "
                f"test {h['test_accuracy'][-1]:.4f}  ({h['epoch_seconds'][-1]:.0f} s)")


@dataclass(frozen=True)
class SoftTargets:
    """A teacher's probabilities fitted beside the labels (knowledge distillation).

    Every image a run fits, validates or tests on is read by `teacher` once, before
    training and without augmentation, so the targets become `(N, 11)`: the label, then
    the teacher's ten probabilities; `loss` reads both (`objective.distillation_loss`).
    """

    teacher: Callable[[np.ndarray], np.ndarray]  # (N, 28, 28) images -> (N, 10)
    loss: Callable

    def targets(self, images: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """`(N, 11)` float32: each image's label, then the teacher's probabilities."""
        probabilities = np.asarray(self.teacher(images), dtype=np.float32)
        if probabilities.shape != (len(images), 10):
            raise ValueError(f"the teacher gave probabilities shaped {probabilities.shape} "
                             f"for {len(images)} images, expected ({len(images)}, 10)")
        return np.concatenate([labels.astype(np.float32)[:, None], probabilities], axis=1)


@dataclass
class TrainResult:
    """What a finished (or stopped) run produced."""

    model: keras.Model
    card: ModelCard
    stopped: bool


class _RunMonitor(keras.callbacks.Callback):
    """Scores the test set each epoch, keeps the best weights, reports and stops."""

    def __init__(self, test_data, steps, epochs, progress, stop_event, min_interval):
        super().__init__()
        self.test_data = test_data
        self.steps, self.epochs = steps, epochs
        self.progress, self.stop_event = progress, stop_event
        self.min_interval = min_interval
        self.history = {key: [] for key in HISTORY_KEYS}
        self.best_score = -math.inf
        self.best_weights = None
        self.best_epoch = 0
        self.stopped = False
        self._epoch = 0
        self._epoch_start = 0.0
        self._last_report = 0.0
        self.start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1
        self._epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped = True
            self.model.stop_training = True
        now = time.perf_counter()
        if self.progress is not None and now - self._last_report >= self.min_interval:
            self._last_report = now
            self.progress(self._snapshot(batch + 1, finished=False))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.stopped:
            return  # a partial epoch is not a result: keep the last whole one
        x_test, y_test = self.test_data
        test_started = time.perf_counter()
        test_loss, test_acc = self.model.evaluate(
            x_test, y_test, batch_size=1024, verbose=0
        )
        test_seconds = time.perf_counter() - test_started
        record = {
            "loss": logs.get("loss"), "accuracy": logs.get("accuracy"),
            "val_loss": logs.get("val_loss"), "val_accuracy": logs.get("val_accuracy"),
            "test_loss": test_loss, "test_accuracy": test_acc,
            "epoch_seconds": time.perf_counter() - self._epoch_start,
            "test_seconds": test_seconds,
        }
        for key in HISTORY_KEYS:
            value = record[key]
            self.history[key].append(None if value is None else float(value))
        # Model selection never looks at the test set: validation accuracy (then
        # lower validation loss) if there is a validation split, else the latest epoch.
        if record["val_accuracy"] is not None:
            score = record["val_accuracy"] - 1e-3 * record["val_loss"]
        else:
            score = float(epoch)
        if score >= self.best_score:
            self.best_score = score
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch + 1
        if self.progress is not None:
            self.progress(self._snapshot(self.steps, finished=True))

    def _snapshot(self, step, finished):
        return Progress(
            epoch=self._epoch, epochs=self.epochs, step=step, steps=self.steps,
            elapsed=time.perf_counter() - self.start,
            history={k: list(v) for k, v in self.history.items()},
            epoch_finished=finished,
        )


def train_model(
    config: TrainConfig,
    *,
    data=None,
    save_as: str | None = None,
    models_dir=None,
    progress: Callable[[Progress], None] | None = None,
    stop_event=None,
    callbacks: list[keras.callbacks.Callback] | None = None,
    progress_interval: float = 0.5,
    overwrite: bool = False,
    card_extra: dict | None = None,
    soft_targets: SoftTargets | None = None,
) -> TrainResult:
    """Run one training and, if `save_as` is given, save the model and its card.

    `data` is `((x_train, y_train), (x_test, y_test))` as from `load_mnist`; None
    loads MNIST. `stop_event` is anything with `is_set()`. `card_extra` adds fields to
    the card (the owner and job of a queued run). `soft_targets` makes the run a
    student of a teacher: its validation and test losses are its loss against the
    teacher too, while accuracy, and so the epoch chosen, and its reading policy go by
    the labels. Raises `TrainingStopped` if stopped before one epoch finished.
    """
    cfg = config.resolved()
    if save_as is not None:
        registry.validate_name(save_as)
        if not overwrite and registry.model_exists(save_as, models_dir):
            raise FileExistsError(f"a model named {save_as!r} already exists")
    (x_train, y_train), (x_test, y_test) = data if data is not None else load_mnist()
    run = prepare_run(cfg, (x_train, y_train), soft_targets, models_dir=models_dir)
    if cfg.test_size is not None:
        x_test, y_test = x_test[: cfg.test_size], y_test[: cfg.test_size]
    x_test, y_test = prepare_mnist(x_test), y_test.astype(np.int32)
    model = run.model
    val_targets, test_targets = run.val_data, (x_test, y_test)
    if soft_targets is not None:
        if run.val_data is not None:
            val_targets = (run.val_data[0], soft_targets.targets(*run.val_data))
        test_targets = (x_test, soft_targets.targets(x_test, y_test))

    monitor = _RunMonitor(
        test_targets, run.steps, cfg.epochs, progress, stop_event, progress_interval
    )
    # With averaged weights, validation, the test score and the weights kept at each
    # epoch's end are the average's: the swap must come before the monitor.
    averaging = ([keras.callbacks.SwapEMAWeights(swap_on_epoch=True)]
                 if cfg.ema_momentum else [])
    started = time.perf_counter()
    model.fit(
        run.train_ds, epochs=cfg.epochs, validation_data=val_targets, verbose=0,
        shuffle=False, callbacks=[*averaging, monitor, *(callbacks or [])],
    )
    seconds = time.perf_counter() - started
    if monitor.best_weights is None:
        raise TrainingStopped("training was stopped before the first epoch finished")
    model.set_weights(monitor.best_weights)

    card = run_card(cfg, model, monitor, seconds, run.n_fit, run.n_val, len(x_test))
    if run.val_data is not None:  # calibrated on the images it held out, never the test
        x_val, y_val = run.val_data
        policy = fit_policy(predict_proba(model, x_val), y_val)
        card = card.replace(reading=card_entry(
            policy, f"{run.n_val:,} validation images of this training run"))
    card = card.replace(**(card_extra or {}))
    if save_as is not None:
        card = card.replace(name=save_as)
        # with its readings of the test set, which the Evaluate page shows
        saving.save_model(model, save_as, card, directory=models_dir, overwrite=overwrite,
                            test_set=(x_test, y_test))
    return TrainResult(model=model, card=card, stopped=monitor.stopped)


@dataclass
class PreparedRun:
    """A compiled model and its data pipeline, as `train_model` fits them."""

    model: keras.Model
    train_ds: tf.data.Dataset
    val_data: tuple[np.ndarray, np.ndarray] | None
    steps: int  # batches per epoch
    n_fit: int  # digits fitted (non-digits come on top)
    n_val: int


def prepare_run(cfg: TrainConfig, train_data: tuple[np.ndarray, np.ndarray],
                soft_targets: SoftTargets | None = None, *, models_dir=None) -> PreparedRun:
    """Split, prepare and batch the training data and build the compiled model: a fresh
    network, or with `cfg.start_from` that stored model's (from `models_dir`, default
    the store), which must be of the run's architecture (`ValueError` otherwise).

    `cfg` must be resolved. The validation split is random with `cfg.seed` (Keras's own
    `validation_split` takes the last images unshuffled). Benchmarks call this to fit
    exactly what `train_model` fits. With `soft_targets` the fitted images' targets
    carry the teacher's probabilities of the images as they are, augmentation aside,
    and the model is compiled with its loss; `val_data` keeps the labels alone.
    """
    x_train, y_train, n_drawn = training_digits(cfg, train_data)
    init_seed = cfg.seed if cfg.init_seed is None else cfg.init_seed
    keras.utils.set_random_seed(init_seed)
    val_idx, fit_idx = split_indices(len(x_train), cfg, n_drawn)
    n_val = len(val_idx)
    x_fit, y_fit = x_train[fit_idx], y_train[fit_idx]
    n_fit = len(x_fit)
    if cfg.non_digits:  # fitted only: validation and test stay digits
        x_fit = np.concatenate([x_fit, non_digit_drawings(cfg)])
        y_fit = np.concatenate([y_fit, np.full(cfg.non_digits, NOT_A_DIGIT, np.int32)])
    steps = math.ceil(len(x_fit) / cfg.batch_size)

    arch = get_architecture(cfg.architecture)
    model = start_network(cfg, models_dir) if cfg.start_from else build_network(arch.name)
    learning_rate = cfg.learning_rate
    if arch.cosine_decay:
        total = steps * cfg.epochs
        warmup = int(total * arch.warmup_share)
        if warmup:  # one cycle: up from a tenth of the rate, then the cosine down
            learning_rate = keras.optimizers.schedules.CosineDecay(
                cfg.learning_rate / 10, decay_steps=total - warmup, alpha=0.01,
                warmup_target=cfg.learning_rate, warmup_steps=warmup,
            )
        else:
            learning_rate = keras.optimizers.schedules.CosineDecay(
                cfg.learning_rate, decay_steps=total, alpha=0.01
            )
    compile_model(model, learning_rate, non_digits=bool(cfg.non_digits),
                  ema_momentum=cfg.ema_momentum,
                  loss=None if soft_targets is None else soft_targets.loss)
    targets = y_fit if soft_targets is None else soft_targets.targets(x_fit, y_fit)

    train_ds = tf.data.Dataset.from_tensor_slices((x_fit, targets))
    train_ds = train_ds.shuffle(len(x_fit), seed=init_seed, reshuffle_each_iteration=True)
    train_ds = train_ds.batch(cfg.batch_size)
    if cfg.augment:
        train_ds = train_ds.map(
            lambda x, y: (augment_batch(x), y), num_parallel_calls=tf.data.AUTOTUNE
        )
    train_ds = train_ds.prefetch(tf.data.AUTOTUNE)
    val_data = (x_train[val_idx], y_train[val_idx]) if n_val else None
    return PreparedRun(model, train_ds, val_data, steps, n_fit, n_val)


def start_network(cfg: TrainConfig, models_dir=None) -> keras.Model:
    """The stored model `cfg.start_from`'s Keras network, to be fitted further: refused
    (`ValueError`) unless its card names the run's architecture, and, as every network
    the store loads, unless it reads 28x28 images into ten probabilities
    (`InvalidModelError`); `ModelNotFoundError` if there is no such model."""
    stored = registry.load_model(cfg.start_from, models_dir)
    cfg.check_start(stored.card.architecture)
    return stored.network

