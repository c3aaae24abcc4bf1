"""A training run's progress as it goes: what is reported to the progress callback
(`Progress`), the monitor that scores each epoch, keeps the best weights and stops when
asked (`RunMonitor`), and what a finished run produced (`TrainResult`). Shared by
`train` (digit readers) and `number_train` (whole-number readers)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import keras

from mnist_core.model.card import ModelCard

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


@dataclass
class TrainResult:
    """What a finished (or stopped) run produced."""

    model: keras.Model
    card: ModelCard
    stopped: bool


class RunMonitor(keras.callbacks.Callback):
    """Scores the test set each epoch, keeps the best weights, reports and stops. A run
    that scores otherwise (a number reader's, `number_train`) overrides `scores`."""

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
        test_started = time.perf_counter()
        record = self.scores(logs) | {
            "epoch_seconds": time.perf_counter() - self._epoch_start,
            "test_seconds": time.perf_counter() - test_started,
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

    def scores(self, logs: dict) -> dict:
        """The epoch's losses and accuracies (`HISTORY_KEYS` but the seconds): Keras's
        logs, and the test set's, scored now."""
        x_test, y_test = self.test_data
        test_loss, test_acc = self.model.evaluate(x_test, y_test, batch_size=1024, verbose=0)
        return {"loss": logs.get("loss"), "accuracy": logs.get("accuracy"),
                "val_loss": logs.get("val_loss"), "val_accuracy": logs.get("val_accuracy"),
                "test_loss": test_loss, "test_accuracy": test_acc}

    def _snapshot(self, step, finished):
        return Progress(
            epoch=self._epoch, epochs=self.epochs, step=step, steps=self.steps,
            elapsed=time.perf_counter() - self.start,
            history={k: list(v) for k, v in self.history.items()},
            epoch_finished=finished,
        )
