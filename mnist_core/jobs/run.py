"""A job's process: run one claimed job by its kind and record how it ended.

    python -m mnist_core.jobs.run JOB_ID   # started by a worker (`worker.Supervisor`)

`run_job` looks the record's kind up in `RUNNERS`: training (`train_job`), from a fresh
network or a stored model's weights (`TrainConfig.start_from`), teaching a stored
model its owner's kept drawings (`teach_job`), which it takes from the drawings store
(`open_drawings_store`, on the same shared state as the queue), or building a saved
model's neighbour index (`index_job`, forward passes only: no TensorFlow). A job imports
TensorFlow (only once it trains), writes progress to the job's record, saves through
the model store (atomically) and exits, returning its memory. While the queue cannot
be reached (Redis restarting) it trains on: a progress write is skipped, a stop request
read as not made, and the final record written once the queue is back. It opens the
job records itself (`store.open_job_store`), not the queue.
"""

from __future__ import annotations

import logging
import sys
import time

from mnist_core.errors import JobError, MnistCoreError
from mnist_core.jobs.records import (
    FAILED,
    FINISHED,
    INDEX,
    RUNNING,
    STOPPED,
    TEACH,
    TRAIN,
    Progress,
    kind_of,
)
from mnist_core.jobs.store import JobStore, open_job_store, patiently
from mnist_core.shared.state import open_backend
from mnist_core.store import registry, saving
from mnist_core.training.config import TeachConfig, TrainConfig

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.0  # s between progress writes
END_PATIENCE = 600.0  # s to keep trying to record how the run ended


class _StopFlag:
    """`is_set()` for `train_model`: the job's stop request, read at most every 0.5 s."""

    def __init__(self, store: JobStore, job_id: str, every: float = 0.5):
        self.store, self.job_id, self.every = store, job_id, every
        self._checked, self._set = 0.0, False

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._set and now - self._checked >= self.every:
            self._checked = now
            try:
                record = self.store.get(self.job_id) or {}
            except self.store.transient:
                return False  # asked again in a moment
            self._set = record.get("stop_requested") is not None
        return self._set


def run_job(store: JobStore, job_id: str) -> None:
    """Run one claimed job of `store` by its kind (`RUNNERS`); a kind this version does
    not know fails the job saying so."""
    record = store.get(job_id)
    if record is None or record["status"] != RUNNING:
        return
    kind = kind_of(record)
    runner = RUNNERS.get(kind)
    if runner is None:
        message = (f"This worker cannot run jobs of kind {kind!r} (it runs "
                   f"{', '.join(sorted(RUNNERS))}): is it older than the app?")
        log.warning("job %s: %s", job_id, message)
        patiently(store, lambda: store.update(
            job_id, {"status": FAILED, "ended": time.time(), "message": message},
            if_status=[RUNNING]), f"record how job {job_id} ended", END_PATIENCE)
        return
    runner(store, job_id)


class _Record:
    """A running job's writes to its record: progress (skipped while the queue cannot be
    reached: the next write carries it all) and how it ended (tried until it lands)."""

    def __init__(self, store: JobStore, job_id: str):
        self.store, self.job_id = store, job_id
        self._unwritten = 0  # progress writes that failed in a row: logged once

    def progress(self, progress) -> None:
        try:
            self.store.update(self.job_id, {
                "progress": Progress(
                    epoch=progress.epoch, epochs=progress.epochs, step=progress.step,
                    steps=progress.steps, elapsed=progress.elapsed,
                    fraction=progress.fraction, eta=progress.eta, written=time.time(),
                ).to_json(),
                "history": progress.history,
            }, if_status=[RUNNING])
        except self.store.transient as err:
            if not self._unwritten:
                log.warning("cannot write the progress of job %s (%s); it trains on",
                            self.job_id, err)
            self._unwritten += 1
            return
        if self._unwritten:
            log.info("progress of job %s written again after %d tries", self.job_id,
                     self._unwritten)
            self._unwritten = 0

    def end(self, status: str, message: str, card: dict | None = None) -> None:
        fields = {"status": status, "ended": time.time(), "message": message, "card": card}
        patiently(self.store, lambda: self.store.update(self.job_id, fields,
                                                        if_status=[RUNNING]),
                  f"record how job {self.job_id} ended", END_PATIENCE)

    def failed(self, err: Exception, name: str, *, words_in_log: bool = True) -> None:
        """Record a run that failed with `err`: its own words where it is a refusal, the
        model store's problem in words, else what went wrong (the detail: the log).
        Without `words_in_log` a refusal's words stay out of the log (a teach run's may
        count someone's drawings)."""
        if isinstance(err, MnistCoreError | ValueError | FileExistsError):
            if words_in_log:
                log.warning("job %s (%r) failed: %s", self.job_id, name, err, exc_info=True)
            else:
                log.warning("job %s (%r) refused: %s", self.job_id, name, type(err).__name__)
            self.end(FAILED, str(err))
        elif isinstance(err, OSError):  # the detail (paths, errno) is for the log only
            log.warning("job %s (%r) failed: %s", self.job_id, name, err, exc_info=True)
            problem = saving.store_problem(err)
            self.end(FAILED, f"The model could not be saved: {problem}. Every existing "
                     "model is unchanged." if problem else "A file or download the run "
                     "needed could not be read or written (the server log has the "
                     "detail); nothing was saved.")
        else:
            log.error("job %s (%r) failed", self.job_id, name, exc_info=err)
            self.end(FAILED, f"the run failed unexpectedly: {type(err).__name__}: {err}")


def train_job(store: JobStore, job_id: str) -> None:
    """Train one claimed job of `store` and record how it ended.

    Every way a run can end (finished, stopped, failed) becomes a status and a message
    on the record; the model store's atomic saves leave existing models whole.
    """
    from mnist_core.training.tensorflow_setup import quiet_tensorflow

    quiet_tensorflow()
    from mnist_core.errors import TrainingStopped
    from mnist_core.sources.data import load_mnist
    from mnist_core.training.train import train_model

    record = store.get(job_id)
    if record is None or record["status"] != RUNNING:
        return
    name, owner = record["name"], record["owner"]
    written = _Record(store, job_id)
    try:
        config = TrainConfig.from_dict(record["config"])
        result = train_model(
            config, data=load_mnist(), save_as=name, progress=written.progress,
            stop_event=_StopFlag(store, job_id), overwrite=bool(record.get("overwrite")),
            progress_interval=PROGRESS_EVERY, card_extra={"owner": owner, "job": job_id},
        )
    except TrainingStopped:
        written.end(STOPPED, "Stopped before the first epoch finished; nothing was saved.")
    except Exception as err:  # noqa: BLE001 - the record is the only place to report to
        written.failed(err, name)
    else:
        card = result.card.to_json()  # the record holds JSON
        epochs, accuracy = card["epochs_run"], card["test_accuracy"]
        if result.stopped:
            written.end(STOPPED, (
                f"Stopped after {epochs} epoch{'s' if epochs != 1 else ''}; saved model "
                f"{name!r} (best epoch {card['best_epoch']}, test accuracy {accuracy:.2%})."
            ), card)
        else:
            written.end(FINISHED, (
                f"Saved model {name!r}: test accuracy {accuracy:.2%} (best epoch "
                f"{card['best_epoch']} of {epochs})."
            ), card)


def teach_job(store: JobStore, job_id: str) -> None:
    """Teach one claimed job's base model its owner's kept drawings (and, where the job
    says so, those others share), taken from the drawings store now; record how it
    ended. What it saw and how it reads, before and after, go on the saved model's card
    (`taught`), which the record holds."""
    from mnist_core.training.tensorflow_setup import quiet_tensorflow

    quiet_tensorflow()
    from mnist_core.errors import TrainingStopped
    from mnist_core.shared.drawings import open_drawings_store
    from mnist_core.sources.data import load_mnist
    from mnist_core.sources.drawings_file import Drawings
    from mnist_core.training.teach import teach_model

    record = store.get(job_id)
    if record is None or record["status"] != RUNNING:
        return
    name, owner = record["name"], record["owner"]
    written = _Record(store, job_id)
    try:
        config = TeachConfig.from_dict(record["teach"])
        kept = open_drawings_store().for_training(owner, config.include_shared)
        if not kept:
            raise JobError("there are no kept drawings to teach: keep some on the Draw page")
        result = teach_model(
            Drawings.from_kept(kept), name, config, data=load_mnist(), owner=owner,
            owners=len({drawing.owner for drawing in kept}), progress=written.progress,
            stop_event=_StopFlag(store, job_id), progress_interval=PROGRESS_EVERY,
            overwrite=bool(record.get("overwrite")), job=job_id,
        )
    except TrainingStopped:
        written.end(STOPPED, "Stopped; nothing was saved.")
    except Exception as err:  # noqa: BLE001 - the record is the only place to report to
        written.failed(err, name, words_in_log=False)
    else:
        written.end(FINISHED, taught_message(name, result.report), result.card.to_json())


def taught_message(name: str, report: dict) -> str:
    """A finished teach run in words: the held-out drawings and the MNIST test set,
    read by the base and by the new model."""
    held, test = report["held_out"], report["mnist_test"]
    how = "each in turn" if held["cross_validated"] else "kept back"
    return (f"Saved model {name!r}: of {held['digits']} drawn digits it never fitted "
            f"({how}), it read {held['taught_right']} right, {report['base']} "
            f"{held['base_right']}; MNIST test accuracy {test['taught']:.2%} "
            f"({report['base']}: {test['base']:.2%}).")


def index_job(store: JobStore, job_id: str) -> None:
    """Build one claimed job's model's neighbour index (`training.neighbour_index`) and
    store it beside the model; record how it ended. A model deleted before its turn
    needs none."""
    from mnist_core.errors import TrainingStopped
    from mnist_core.sources.data import load_mnist
    from mnist_core.training.neighbour_index import index_model

    record = store.get(job_id)
    if record is None or record["status"] != RUNNING:
        return
    name = record["name"]
    written = _Record(store, job_id)
    if not registry.model_exists(name):
        written.end(STOPPED, f"Model {name!r} was deleted before its index was built.")
        return
    started = time.monotonic()
    try:
        built, _ = index_model(name, data=load_mnist(), stop_event=_StopFlag(store, job_id),
                               progress=_BatchProgress(written, started))
    except TrainingStopped:
        written.end(STOPPED, "Stopped; no index was saved.")
    except Exception as err:  # noqa: BLE001 - the record is the only place to report to
        written.failed(err, name)
    else:
        written.end(FINISHED, f"Indexed {len(built):,} training digits of {name!r} in "
                    f"{time.monotonic() - started:.0f} s: the Draw page shows those most "
                    "like a drawing.")


class _BatchProgress:
    """`progress(done, total)` of an index job, written as a one-epoch run's progress
    (batches of images read), at most every `PROGRESS_EVERY` seconds."""

    def __init__(self, written: _Record, started: float):
        self.written, self.started, self.last = written, started, 0.0
        self.epoch = self.epochs = 1
        self.history: dict = {}

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < PROGRESS_EVERY and done < total:
            return
        self.last, self.step, self.steps = now, done, total
        self.elapsed, self.fraction = now - self.started, done / total
        self.eta = self.elapsed * (total - done) / done if done else None
        self.written.progress(self)


RUNNERS = {TRAIN: train_job, TEACH: teach_job, INDEX: index_job}  # by the record's kind


def main(argv: list[str] | None = None) -> int:
    """Run the job named on the command line, on the job records of this environment
    (the worker that started it has checked and logged how they are kept)."""
    (job_id,) = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run_job(open_job_store(open_backend(check=False)), job_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
