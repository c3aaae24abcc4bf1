"""Train a model on MNIST with per-epoch history, progress reports and a stop switch.

`train_model` is what a training job's process and the CLI both call:

    result = train_model(TrainConfig("fast-cnn"), save_as="my-fast-cnn")

It records train/validation/test accuracy and loss after every epoch, reports progress
through a callback (throttled, so the UI never slows training down), stops after the
current batch when `stop_event` is set (keeping the best weights so far) and saves
through the model store, atomically. With `soft_targets` it trains a student on a
teacher's probabilities beside the labels (`mnist_core.training.distill`). With
`TrainConfig.start_from` it fits a stored model's network further instead of a fresh one.
A whole-number reader's architecture (`number-ctc`) is trained by `number_train`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mnist_core.errors import TrainingStopped
from mnist_core.model.card import NUMBER
from mnist_core.reading.inference import predict_proba
from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.sources.data import load_mnist
from mnist_core.store import registry, saving
from mnist_core.training.architectures import get_architecture
from mnist_core.training.augment import augment_batch
from mnist_core.training.calibration import card_entry, fit_policy
from mnist_core.training.config import TrainConfig
from mnist_core.training.models import NOT_A_DIGIT, build_network
from mnist_core.training.monitor import (  # noqa: F401 - what runs import from here too
    HISTORY_KEYS,
    Progress,
    RunMonitor,
    TrainResult,
)
from mnist_core.training.objective import compile_model
from mnist_core.training.run_card import run_card
from mnist_core.training.run_data import (
    non_digit_drawings,
    split_indices,
    training_digits,
)


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
    data = data if data is not None else load_mnist()
    if get_architecture(cfg.architecture).task == NUMBER:
        return _train_number_reader(cfg, data, save_as=save_as, models_dir=models_dir,
                                    progress=progress, stop_event=stop_event,
                                    callbacks=callbacks, progress_interval=progress_interval,
                                    overwrite=overwrite, card_extra=card_extra,
                                    soft_targets=soft_targets)
    (x_train, y_train), (x_test, y_test) = data
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

    monitor = RunMonitor(
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


def _train_number_reader(cfg: TrainConfig, data, *, soft_targets, **run) -> TrainResult:
    """A whole-number reader's run (`number_train`): no teacher, no stored start."""
    if soft_targets is not None or cfg.start_from:
        raise ValueError(f"a {cfg.architecture!r} run trains a fresh number reader: it "
                         "learns from no teacher and starts from no stored model")
    from mnist_core.training.number_train import train_number_model

    return train_number_model(cfg, data=data, **run)


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

