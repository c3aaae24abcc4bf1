"""Teach a stored model a visitor's drawings: its network fitted further on them, among
replayed MNIST digits, saved as the visitor's own model.

    result = teach_model(drawings, "my-cnn", TeachConfig(base="cnn-drawn-all"),
                         owner=owner, owners=1)
    result.card.extra["taught"]   # what it saw (counts) and how it reads, before and after

The drawings (`drawings_file.Drawings`: a drawings file's, or a drawings store's kept
drawings) are shown `copies` times an epoch, shifted, rotated and thickened like any
training batch (`augment`), among `replay` MNIST digits the base fitted and
`pen_replay` of its pen writers' digits, so that the model keeps reading everyone
else's digits, drawn ones included. Only its dense head is fitted by default
(`TeachConfig.layers`): the features under it stay the base's, which disturbs how it
reads everyone else's digits less and fits faster; batch normalisation keeps the base's
statistics, which a few hundred images would only disturb. Some drawings are held out
and read by the base and by the model that never fitted them: with many, one tenth (the
saved model fits the rest); with few, every drawing in turn (`FOLDS` runs, then the
saved model fits them all). The reading policy is fitted on MNIST digits the base held
out of its own training; the model is saved with its readings of the MNIST test set. An
ensemble base is taught through its first run (fitting every run costs as many times as
long).
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mnist_core.errors import JobError, TrainingStopped
from mnist_core.model.card import ENSEMBLE, History, ModelCard
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.reading.inference import predict_proba
from mnist_core.reading.preprocess import PREPROCESS_VERSION, prepare_mnist
from mnist_core.sources.data import load_mnist
from mnist_core.sources.drawings_file import Drawings
from mnist_core.store import registry, saving
from mnist_core.training.augment import augment_batch
from mnist_core.training.calibration import card_entry, fit_policy
from mnist_core.training.config import TeachConfig, missing_drawings
from mnist_core.training.objective import compile_model
from mnist_core.training.teach_data import (
    held_out_plan,
    mnist_indices,
    pen_replay,
    training_labels,
)
from mnist_core.training.train import Progress


@dataclass
class TeachResult:
    """A taught model, its card (`taught`: what it saw, how it reads), and the report."""

    model: keras.Model
    card: ModelCard
    report: dict


def teach_model(
    drawings: Drawings,
    name: str,
    config: TeachConfig | None = None,
    *,
    data=None,
    owner: str | None = None,
    owners: int | None = None,
    models_dir=None,
    base_dir=None,
    progress: Callable[[Progress], None] | None = None,
    stop_event=None,
    progress_interval: float = 0.5,
    overwrite: bool = False,
    job: str | None = None,
) -> TeachResult:
    """Fit `config.base`'s network further on `drawings`, calibrate it and save it as
    `name` (in `models_dir`; the base is looked for in `base_dir`, default `models_dir`),
    owned by `owner`; its card counts the drawings and their `owners` (None: not known,
    as for a file).

    `data` is `load_mnist()`'s; None loads MNIST. `stop_event` is anything with
    `is_set()`: a stopped run saves nothing (`TrainingStopped`). Refused with a
    `JobError` when some digit has too few drawings (`config.missing_drawings`).
    """
    config = (config or TeachConfig()).checked()
    registry.validate_name(name)
    if not overwrite and registry.model_exists(name, models_dir):
        raise FileExistsError(f"a model named {name!r} already exists")
    problem = missing_drawings(drawings.per_label())
    if problem:
        raise JobError(problem)
    started = time.perf_counter()
    base_dir = models_dir if base_dir is None else base_dir
    base = registry.load_model(config.base, base_dir)
    start = starting_network(base)
    (x_train, y_train), (x_test, y_test) = data if data is not None else load_mnist()
    replay_idx, calibration_idx = mnist_indices(base.card, len(x_train), config)
    x_pen, y_pen = pen_replay(base.card, config)
    replay = (np.concatenate([prepare_mnist(x_train[replay_idx]), x_pen]),
              np.concatenate([y_train[replay_idx], y_pen]).astype(np.int32))
    images = drawings.images28.astype(np.float32) / 255.0
    labels = training_labels(drawings.labels)
    plan = held_out_plan(labels, config.seed)

    monitor = _Monitor(plan.runs, config.epochs, progress, stop_event, progress_interval)
    base_read = predict_proba(base.network, images).argmax(axis=1)
    taught_read = np.full(len(labels), -1)
    model = None
    for fitted, held in plan.folds:
        model = fit_drawings(start, images[fitted], labels[fitted], replay, config, monitor)
        taught_read[held] = predict_proba(model, images[held]).argmax(axis=1)
    if plan.refit:
        model = fit_drawings(start, images, labels, replay, config, monitor)
    seconds = monitor.run_seconds

    x_calibration = prepare_mnist(x_train[calibration_idx])
    policy = fit_policy(predict_proba(model, x_calibration), y_train[calibration_idx])
    held_out = np.concatenate([held for _, held in plan.folds])
    held_digits = held_out[labels[held_out] >= 0]
    test_set = prepare_mnist(x_test), y_test
    report = {
        "base": config.base,
        "drawings": len(labels),
        "per_label": drawings.per_label().tolist(),
        "owners": owners,
        "include_shared": config.include_shared,
        "held_out": {
            "digits": int(len(held_digits)),
            "cross_validated": plan.refit,
            "runs": len(plan.folds),
            "base_right": int((base_read[held_digits] == labels[held_digits]).sum()),
            "taught_right": int((taught_read[held_digits] == labels[held_digits]).sum()),
        },
        "mnist_test": {"base": base_test_accuracy(base, test_set, base_dir), "taught": None},
        "replayed": {"mnist": len(replay_idx), "pen_drawn": len(y_pen)},
        "settings": config.to_dict(),
    }
    architecture = start_architecture(base.card)
    card = ModelCard(
        architecture=architecture,
        description=f"{config.base} taught {len(labels):,} kept drawings",
        activation=base.card.activation,
        params=int(model.count_params()),
        hyperparameters=config.run_config(architecture).to_dict() | {"teach": config.to_dict()},
        history=History(loss=monitor.history["loss"], accuracy=monitor.history["accuracy"]),
        epochs_run=config.epochs,
        best_epoch=config.epochs,
        train_accuracy=monitor.history["accuracy"][-1],
        training_seconds=round(seconds, 1),
        train_images=monitor.fitted,
        test_images=len(y_test),
        trained_on=(f"{config.base}'s network fitted further on {len(labels):,} kept "
                    f"drawings{_of_owners(owners)}, among {len(replay_idx):,} of its MNIST "
                    f"training digits and {len(y_pen):,} of its pen writers' digits"),
        pen_writers=list(base.card.pen_writers or []),
        preprocess_version=PREPROCESS_VERSION,
        versions={"keras": keras.__version__, "tensorflow": tf.__version__,
                  "numpy": np.__version__, "python": platform.python_version()},
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        owner=owner,
        job=job,
        reading=card_entry(policy, f"{len(calibration_idx):,} MNIST digits {config.base} "
                           "held out of its own training"),
    )
    saving.save_model(model, name, card, directory=models_dir, overwrite=overwrite,
                      test_set=test_set)
    # the readings just saved are of the graph served: its test accuracy
    scores = registry.read_scores(name, models_dir)
    accuracy = float((scores.predictions == scores.labels).mean())
    report["mnist_test"]["taught"] = accuracy
    report["seconds"] = round(time.perf_counter() - started, 1)
    card = registry.read_card(name, models_dir).replace(
        test_accuracy=accuracy, extra={"taught": report})
    saving.write_card(name, card, models_dir)
    return TeachResult(model, card, report)


def _of_owners(owners: int | None) -> str:
    return "" if owners is None else f" of {owners} owner{'s' if owners != 1 else ''}"


def starting_network(base: LoadedModel) -> keras.Model:
    """A copy of the network a teach run fits: the base's, or an ensemble's first run."""
    network = base.network
    if base.card.architecture == ENSEMBLE:
        network = network.get_layer("run_1")
    copy = keras.models.clone_model(network)
    copy.set_weights(network.get_weights())
    return copy


def start_architecture(card: ModelCard) -> str | None:
    """The architecture of the network a teach run fits (an ensemble's runs')."""
    if card.architecture == ENSEMBLE:
        return (card.hyperparameters or {}).get("architecture")
    return card.architecture


def fit_drawings(start: keras.Model, images: np.ndarray, labels: np.ndarray,
                 replay: tuple[np.ndarray, np.ndarray], config: TeachConfig,
                 monitor: _Monitor) -> keras.Model:
    """A copy of `start` fitted on `images` (`copies_of` each an epoch) among the
    `replay` digits, all augmented: its head or all its layers (`config.layers`), batch
    normalisation frozen; `TrainingStopped` when the monitor's stop switch is set."""
    model = keras.models.clone_model(start)
    model.set_weights(start.get_weights())
    fitted = set(head_layers(model) if config.layers == "head" else model.layers)
    for layer in model.layers:
        layer.trainable = layer in fitted and not isinstance(
            layer, keras.layers.BatchNormalization)
    compile_model(model, config.learning_rate, non_digits=True)
    copies = config.copies_of(len(images))
    x = np.concatenate([replay[0], np.repeat(images, copies, axis=0)])
    y = np.concatenate([replay[1], np.repeat(labels, copies)]).astype(np.int32)
    dataset = (tf.data.Dataset.from_tensor_slices((x, y))
               .shuffle(len(x), seed=config.seed + monitor.run, reshuffle_each_iteration=True)
               .batch(config.batch_size)
               .map(lambda batch, target: (augment_batch(batch), target),
                    num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(tf.data.AUTOTUNE))
    keras.utils.set_random_seed(config.seed + monitor.run)
    monitor.begin_run(math.ceil(len(x) / config.batch_size), len(x))
    model.fit(dataset, epochs=config.epochs, verbose=0, shuffle=False, callbacks=[monitor])
    if monitor.stopped:
        raise TrainingStopped("the teach run was stopped; nothing was saved")
    return model


def head_layers(model: keras.Model) -> list:
    """The layers after the network's last `Flatten`: its dense head, which reads the
    features the layers before it compute (every layer where it has no `Flatten`)."""
    flattens = [i for i, layer in enumerate(model.layers)
                if isinstance(layer, keras.layers.Flatten)]
    return model.layers[flattens[-1] + 1:] if flattens else list(model.layers)


def base_test_accuracy(base: LoadedModel, test_set: tuple[np.ndarray, np.ndarray],
                       models_dir=None) -> float:
    """The base's MNIST test accuracy as served: its stored readings where they are of
    this test set, else read now."""
    x_test, y_test = test_set
    scores = registry.read_scores(base.name, models_dir)
    if scores is not None and np.array_equal(scores.labels, y_test):
        return float((scores.predictions == scores.labels).mean())
    return float((predict_proba(base.network, x_test).argmax(axis=1) == y_test).mean())


class _Monitor(keras.callbacks.Callback):
    """Progress over all of a teach run's fits as one run of `runs x epochs` epochs,
    each fit's loss and accuracy per epoch, and the stop switch."""

    def __init__(self, runs: int, epochs: int, progress, stop_event, interval: float):
        super().__init__()
        self.runs, self.epochs = runs, epochs
        self.progress, self.stop_event, self.interval = progress, stop_event, interval
        self.run, self.steps, self.fitted = 0, 1, 0
        self.stopped = False
        self.history: dict[str, list[float]] = {}
        self.all_epochs: dict[str, list[float]] = {"loss": [], "accuracy": []}
        self.start = time.perf_counter()
        self.run_seconds = 0.0
        self._run_start = self._last_report = 0.0
        self._epoch = 0

    def begin_run(self, steps: int, fitted: int) -> None:
        self.run += 1
        self.steps, self.fitted = steps, fitted
        self.history = {"loss": [], "accuracy": []}
        self._run_start = time.perf_counter()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = (self.run - 1) * self.epochs + epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.stop_event is not None and self.stop_event.is_set():
            self.stopped = True
            self.model.stop_training = True
        now = time.perf_counter()
        if self.progress is not None and now - self._last_report >= self.interval:
            self._last_report = now
            self.progress(self._snapshot(batch + 1, finished=False))

    def on_epoch_end(self, epoch, logs=None):
        if self.stopped:
            return
        for key in ("loss", "accuracy"):
            value = float((logs or {}).get(key, math.nan))
            self.history[key].append(value)
            self.all_epochs[key].append(value)
        self.run_seconds = time.perf_counter() - self._run_start
        if self.progress is not None:
            self.progress(self._snapshot(self.steps, finished=True))

    def _snapshot(self, step: int, finished: bool) -> Progress:
        return Progress(
            epoch=self._epoch, epochs=self.runs * self.epochs, step=step, steps=self.steps,
            elapsed=time.perf_counter() - self.start,
            history={key: list(values) for key, values in self.all_epochs.items()},
            epoch_finished=finished,
        )
