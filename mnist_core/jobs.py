"""The background training worker behind the Train page: one run at a time per process.

    from mnist_core.jobs import training_job
    training_job.start(TrainConfig("seed-cnn", epochs=3), "my-seed-cnn")
    training_job.state()   # status, progress, history, card or error, at any time
    training_job.stop()    # ends after the current batch; the best whole epoch is saved

`train_model` runs in a daemon thread of the server process, so the run carries on
while a browser navigates away or reloads, and every session sees the same run. Every
way a run can end (finished, stopped, failed) becomes a status and a message; nothing
is raised into the page, and the store's atomic saves leave existing models whole.

While a run is active, `keras.backend.clear_session()` called from other threads is
skipped: it swaps Keras's global state (layer-name counters, name scopes) for every
thread at once, and Streamlit calls it after each script run (`_clean_problem_modules`
in its script runner), so a model being built beside a polling page would break with
"The name "conv2d" is used 2 times in the model".
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from dataclasses import dataclass, replace

import keras

from mnist_core import registry
from mnist_core.data import DATA_DIR_ENV, load_mnist
from mnist_core.errors import MnistCoreError, TrainingStopped
from mnist_core.train import Progress, TrainConfig, train_model

log = logging.getLogger(__name__)

IDLE, RUNNING, STOPPING = "idle", "running", "stopping"
FINISHED, STOPPED, FAILED = "finished", "stopped", "failed"
ACTIVE = (RUNNING, STOPPING)


class JobRunningError(MnistCoreError, RuntimeError):
    """A training run is already in progress; only one runs at a time."""


@dataclass(frozen=True)
class JobState:
    """A snapshot of the training job, safe to read from any thread."""

    status: str = IDLE
    run: int = 0  # counts the runs started in this process; 0 before the first
    name: str | None = None
    config: TrainConfig | None = None
    progress: Progress | None = None
    started: float | None = None  # time.time() of the start
    ended: float | None = None
    message: str | None = None  # what happened, for finished/stopped/failed runs
    card: dict | None = None  # the saved model's card, when one was saved

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.time()) - self.started

    @property
    def history(self) -> dict[str, list]:
        """Per-epoch history so far (the card's once saved)."""
        if self.card is not None:
            return self.card.get("history", {})
        return self.progress.history if self.progress is not None else {}


class TrainingJob:
    """Runs `train_model` in a background thread and keeps its state behind a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = JobState()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def state(self) -> JobState:
        with self._lock:
            return self._state

    def start(
        self,
        config: TrainConfig,
        name: str,
        *,
        data=None,
        data_dir=None,
        models_dir=None,
        overwrite: bool = False,
    ) -> JobState:
        """Start training `config` to be saved as `name`; returns the new state.

        Raises `JobRunningError` if a run is in progress. Anything else that goes wrong
        (bad settings or name, missing data, a stop before the first epoch) ends the
        run with status `failed` or `stopped` and a message.
        `data` as from `load_mnist`; None reads `data_dir`, else `MNIST_DATA_DIR`,
        else the Keras cache. The store folder is fixed now, so a later change of
        `MNIST_MODELS_DIR` cannot send the model elsewhere.
        """
        with self._lock:
            if self._state.active:
                raise JobRunningError(
                    f"a training run is already in progress (model {self._state.name!r}, "
                    f"{self._state.status}); wait for it to finish or stop it first"
                )
            self._stop = threading.Event()
            folder = registry.models_dir(models_dir)
            if data is None:
                data_dir = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
            self._state = JobState(
                status=RUNNING, run=self._state.run + 1, name=name, config=config,
                started=time.time(),
            )
            self._thread = threading.Thread(
                target=self._run,
                args=(self._state.run, config, name, data, data_dir, folder, overwrite),
                name=f"training-{name}",
                daemon=True,
            )
            self._thread.start()
            return self._state

    def stop(self) -> bool:
        """Ask the run to end after the current batch; False if nothing is running."""
        with self._lock:
            if self._state.status != RUNNING:
                return False
            self._stop.set()
            self._state = replace(self._state, status=STOPPING)
            return True

    def wait(self, timeout: float | None = None) -> JobState:
        """Block until the current run's thread ends (or `timeout` passes)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return self.state()

    def _run(self, run, config, name, data, data_dir, folder, overwrite) -> None:
        stop = self._stop
        shielded = _keras_session_shield()
        shielded.add(threading.current_thread())
        try:
            registry.validate_name(name)
            config.resolved()  # bad settings fail here, before the data is read
            if not overwrite and registry.model_exists(name, folder):
                raise FileExistsError(f"a model named {name!r} already exists in {folder}")
            if data is None:
                data = load_mnist(data_dir)
            result = train_model(
                config, data=data, save_as=name, models_dir=folder,
                progress=lambda p: self._update(run, progress=p),
                stop_event=stop, overwrite=overwrite,
            )
        except TrainingStopped:
            self._end(run, STOPPED, "Stopped before the first epoch finished; nothing was saved.")
        except (MnistCoreError, ValueError, FileExistsError, OSError) as err:
            log.warning("training run %r failed: %s", name, err, exc_info=True)
            self._end(run, FAILED, str(err))
        except Exception as err:  # noqa: BLE001 - a worker thread has no caller to raise to
            log.exception("training run %r failed", name)
            self._end(run, FAILED, f"training failed unexpectedly: {type(err).__name__}: {err}")
        else:
            card = dict(result.card, name=name)
            epochs = card["epochs_run"]
            accuracy = card["test_accuracy"]
            if result.stopped:
                message = (
                    f"Stopped after {epochs} epoch{'s' if epochs != 1 else ''}; saved model "
                    f"{name!r} (best epoch {card['best_epoch']}, test accuracy "
                    f"{accuracy:.2%})."
                )
                self._end(run, STOPPED, message, card)
            else:
                message = (
                    f"Saved model {name!r}: test accuracy {accuracy:.2%} "
                    f"(best epoch {card['best_epoch']} of {epochs}, "
                    f"{card['training_seconds']:.0f} s)."
                )
                self._end(run, FINISHED, message, card)
        finally:
            shielded.discard(threading.current_thread())

    def _update(self, run: int, **changes) -> None:
        with self._lock:
            if self._state.run == run:  # a late report from an old run changes nothing
                self._state = replace(self._state, **changes)

    def _end(self, run: int, status: str, message: str, card: dict | None = None) -> None:
        self._update(run, status=status, message=message, card=card, ended=time.time())


def _keras_session_shield() -> set[threading.Thread]:
    """The worker threads that `keras.backend.clear_session` must not disturb.

    Replaces `clear_session` (once per process: the set lives on the replacement, so a
    re-imported copy of this module finds it) with a version that does nothing while
    any of these threads is running and the caller is another thread.
    """
    current = keras.backend.clear_session
    shielded = getattr(current, "shielded_threads", None)
    if shielded is not None:
        return shielded
    shielded = set()

    @functools.wraps(current)
    def clear_session(*args, **kwargs):
        if shielded - {threading.current_thread()}:
            return None  # a training run in another thread still needs that state
        return current(*args, **kwargs)

    clear_session.shielded_threads = shielded
    keras.backend.clear_session = clear_session
    keras.utils.clear_session = clear_session
    return shielded


# The one job of this process: the Train page of every session reads and drives it.
training_job = TrainingJob()
