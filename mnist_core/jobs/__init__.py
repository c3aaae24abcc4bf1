"""Training as queued jobs: Huey carries them, worker processes run them, anyone reads them.

One role per module: `records` (what a job is and its kind, as plain data), `store`
(the records in SQLite or Redis, as `state.open_backend` decides), `queue` (the client
the pages use), `run` (a job's process, by its kind) and `worker` (the consumer and the
supervisor of jobs' processes). Each imports only those before it, in that order. None of them
imports TensorFlow or Keras, except `run` once it trains.
"""

from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import (
    ACTIVE,
    ENDED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    STOPPED,
    TRAIN,
    Job,
    Limits,
    QueueView,
)
from mnist_core.owners import check_owner, new_owner_id

__all__ = [
    "ACTIVE", "ENDED", "FAILED", "FINISHED", "QUEUED", "RUNNING", "STOPPED", "TRAIN",
    "Job", "JobQueue", "Limits", "QueueView", "check_owner", "new_owner_id",
]
