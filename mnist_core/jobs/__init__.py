"""Training as queued jobs: Huey carries them, worker processes run them, anyone reads them.

One role per module: `records` (what a job is, as plain data), `store` (the records in
SQLite or Redis), `queue` (the client the pages use), `worker` (the consumer and the
supervisor of training processes) and `run` (a job's training process). None of them
imports TensorFlow or Keras, except `run` once it trains.
"""

from mnist_core.jobs.queue import QUEUE_URL_ENV, JobQueue
from mnist_core.jobs.records import (
    ACTIVE,
    ENDED,
    FAILED,
    FINISHED,
    QUEUED,
    RUNNING,
    STOPPED,
    Job,
    Limits,
    QueueView,
)
from mnist_core.owners import check_owner, new_owner_id

__all__ = [
    "ACTIVE", "ENDED", "FAILED", "FINISHED", "QUEUED", "QUEUE_URL_ENV", "RUNNING", "STOPPED",
    "Job", "JobQueue", "Limits", "QueueView", "check_owner", "new_owner_id",
]
