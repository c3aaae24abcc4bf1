"""Shared by the job tests: private stores, an immediate-mode queue, small runs and waits."""

from __future__ import annotations

import os
import time

import pytest

from mnist_core.config import TrainConfig
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import Job

from ..conftest import SUBSET_DIR

ALICE, BOB = "o_alice-" + "0" * 26, "o_bob-" + "0" * 28  # owner ids as the app makes
TINY = TrainConfig("mlp-16-16-relu", epochs=2, batch_size=64, train_size=300, seed=2)
# Long enough to still be running when a test asks it to stop or kills its worker.
LONG = TrainConfig("mlp-16-16-relu", epochs=200, batch_size=16, train_size=1000, seed=2)
JOB_TIMEOUT = 180  # s: a job process imports TensorFlow first, on a busy 2-core machine


@pytest.fixture
def stores(tmp_path, monkeypatch):
    """A private state folder, trained-model store and shipped store, MNIST from the subset."""
    shipped = tmp_path / "shipped"
    shipped.mkdir()
    monkeypatch.setenv("MNIST_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path / "trained"))
    monkeypatch.setenv("MNIST_SHIPPED_MODELS_DIR", str(shipped))
    monkeypatch.setenv("MNIST_DATA_DIR", str(SUBSET_DIR))
    monkeypatch.delenv("MNIST_QUEUE_URL", raising=False)
    return tmp_path


@pytest.fixture
def inline(stores):
    """A queue whose jobs run inside `submit`, in this process (Huey's immediate mode)."""
    return JobQueue(immediate=True, train_in_subprocess=False)


def wait_for(condition, timeout: float = JOB_TIMEOUT, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def ended(queue: JobQueue, job_id: str, timeout: float = JOB_TIMEOUT) -> Job:
    def done():
        job = queue.job(job_id)
        return None if job.active else job

    return wait_for(done, timeout, f"job {job_id} to end")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
