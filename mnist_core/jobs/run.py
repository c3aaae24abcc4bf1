"""A job's process: run one claimed job by its kind and record how it ended.

    python -m mnist_core.jobs.run JOB_ID   # started by a worker (`worker.Supervisor`)

`run_job` looks the record's kind up in `RUNNERS`; today one kind, training
(`train_job`), from a fresh network or a stored model's weights (`TrainConfig.start_from`).
A training job imports TensorFlow (only once it trains), writes progress to the job's
record, saves through the model store (atomically) and exits, returning its memory.
While the queue cannot be reached (Redis restarting) it trains on: a progress write is
skipped, a stop request read as not made, and the final record written once the queue
is back. It opens the job records itself (`store.open_job_store`), not the queue.
"""

from __future__ import annotations

import logging
import sys
import time

from mnist_core.errors import MnistCoreError
from mnist_core.jobs.records import FAILED, FINISHED, RUNNING, STOPPED, TRAIN, Progress, kind_of
from mnist_core.jobs.store import JobStore, open_job_store, patiently
from mnist_core.shared.state import open_backend
from mnist_core.store import saving
from mnist_core.training.config import TrainConfig

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

    unwritten = []  # the progress writes that failed in a row: logged once

    def report(progress) -> None:
        try:
            write_progress(progress)
        except store.transient as err:  # the next write carries it all
            if not unwritten:
                log.warning("cannot write the progress of job %s (%s); it trains on",
                            job_id, err)
            unwritten.append(err)
            return
        if unwritten:
            log.info("progress of job %s written again after %d tries", job_id,
                     len(unwritten))
            unwritten.clear()

    def write_progress(progress) -> None:
        store.update(job_id, {
            "progress": Progress(
                epoch=progress.epoch, epochs=progress.epochs, step=progress.step,
                steps=progress.steps, elapsed=progress.elapsed,
                fraction=progress.fraction, eta=progress.eta, written=time.time(),
            ).to_json(),
            "history": progress.history,
        }, if_status=[RUNNING])

    def end(status: str, message: str, card: dict | None = None) -> None:
        fields = {"status": status, "ended": time.time(), "message": message, "card": card}
        patiently(store, lambda: store.update(job_id, fields, if_status=[RUNNING]),
                  f"record how job {job_id} ended", END_PATIENCE)

    try:
        config = TrainConfig.from_dict(record["config"])
        result = train_model(
            config, data=load_mnist(), save_as=name, progress=report,
            stop_event=_StopFlag(store, job_id), overwrite=bool(record.get("overwrite")),
            progress_interval=PROGRESS_EVERY, card_extra={"owner": owner, "job": job_id},
        )
    except TrainingStopped:
        end(STOPPED, "Stopped before the first epoch finished; nothing was saved.")
    except (MnistCoreError, ValueError, FileExistsError) as err:
        log.warning("training job %s (%r) failed: %s", job_id, name, err, exc_info=True)
        end(FAILED, str(err))
    except OSError as err:  # the detail (paths, errno) is for the server log only
        log.warning("training job %s (%r) failed: %s", job_id, name, err, exc_info=True)
        problem = saving.store_problem(err)
        end(FAILED, f"The model could not be saved: {problem}. Every existing model is "
            "unchanged." if problem else "A file or download the run needed could not be "
            "read or written (the server log has the detail); nothing was saved.")
    except Exception as err:  # noqa: BLE001 - the record is the only place to report to
        log.exception("training job %s (%r) failed", job_id, name)
        end(FAILED, f"training failed unexpectedly: {type(err).__name__}: {err}")
    else:
        card = result.card.to_json()  # the record holds JSON
        epochs, accuracy = card["epochs_run"], card["test_accuracy"]
        if result.stopped:
            end(STOPPED, (
                f"Stopped after {epochs} epoch{'s' if epochs != 1 else ''}; saved model "
                f"{name!r} (best epoch {card['best_epoch']}, test accuracy {accuracy:.2%})."
            ), card)
        else:
            end(FINISHED, (
                f"Saved model {name!r}: test accuracy {accuracy:.2%} (best epoch "
                f"{card['best_epoch']} of {epochs})."
            ), card)


RUNNERS = {TRAIN: train_job}  # what a job's process does, by the record's kind


def main(argv: list[str] | None = None) -> int:
    """Run the job named on the command line, on the job records of this environment
    (the worker that started it has checked and logged how they are kept)."""
    (job_id,) = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    run_job(open_job_store(open_backend(check=False)), job_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
