"""Damaged or unwritable state: the SQLite queue (`queue.db`) and records (`jobs.db`)
with random bytes or cut to half are moved aside (never deleted) and started afresh,
by the app's queue and by a worker; a state folder that cannot be written is a plain
`QueueUnavailableError`, and so is a Redis that cannot be reached."""

from __future__ import annotations

import logging
import os
import sqlite3

import pytest

from mnist_core.errors import QueueUnavailableError
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import FINISHED, QUEUED, Limits

from .conftest import ALICE, BOB, TINY, ended, wait_for

LIMITS = Limits(runs_per_owner=20)


def filled_queue() -> JobQueue:
    """A SQLite queue holding a few queued runs, every write in the main files."""
    queue = JobQueue(limits=LIMITS)
    for i in range(12):
        queue.submit(TINY, f"run-{i}", ALICE if i % 2 else BOB)
    for path in (queue.state / "jobs.db", queue.state / "queue.db"):
        with sqlite3.connect(path) as db:
            db.execute("pragma wal_checkpoint(truncate)")
    return queue


def damage(path, how: str) -> bytes:
    size = path.stat().st_size
    if how == "random bytes":
        path.write_bytes(os.urandom(size))
    else:
        with open(path, "r+b") as file:
            file.truncate(size // 2)
    return path.read_bytes()


@pytest.mark.parametrize("how", ["random bytes", "cut to half"])
def test_damaged_records_are_set_aside_and_a_fresh_queue_starts(stores, how, caplog):
    state = filled_queue().state
    bad = damage(state / "jobs.db", how)
    with caplog.at_level(logging.ERROR):
        queue = JobQueue(limits=LIMITS)
    (aside,) = queue.set_aside
    assert aside.parent == state and aside.name.startswith("jobs.db.damaged-")
    assert aside.read_bytes() == bad  # kept as it was, for whoever looks into it
    assert "jobs.db is damaged" in caplog.text and str(aside) in caplog.text
    assert queue.view().jobs == []  # the records are gone; the queue works
    assert queue.submit(TINY, "after", ALICE).status == QUEUED
    assert JobQueue(limits=LIMITS).set_aside == []  # sound now: nothing moved again


@pytest.mark.parametrize("how", ["random bytes", "cut to half"])
def test_a_damaged_queue_file_loses_no_run_its_records_still_hold(stores, how):
    state = filled_queue().state
    damage(state / "queue.db", how)
    queue = JobQueue(limits=LIMITS)
    (aside,) = queue.set_aside
    assert aside.name.startswith("queue.db.damaged-")
    assert queue.view().waiting == 12 and queue.huey.pending_count() == 0
    assert queue.requeue_lost() == 12  # what a worker does as it starts
    assert queue.huey.pending_count() == 12


def test_files_damaged_while_open_are_noticed_and_set_aside_on_reopening(stores):
    queue = filled_queue()  # still open: it notices once it reads the file again
    damage(queue.state / "jobs.db", "random bytes")
    assert not queue.sound()
    assert len(JobQueue(limits=LIMITS).set_aside) == 1


def test_a_worker_sets_a_damaged_queue_aside_and_runs_what_was_queued(stores, workers):
    queue = JobQueue()
    job = queue.submit(TINY, "survivor", ALICE)
    damage(queue.state / "queue.db", "random bytes")
    workers.start()
    assert ended(queue, job.id).status == FINISHED
    assert len(list(queue.state.glob("queue.db.damaged-*Z"))) == 1
    wait_for(lambda: queue.view().workers, 30, "the worker's heartbeat")


def test_a_state_folder_that_cannot_be_written_is_a_plain_error(stores, monkeypatch):
    blocked = stores / "not-a-folder"
    blocked.write_text("a file where the state folder should be")
    monkeypatch.setenv("MNIST_STATE_DIR", str(blocked / "state"))
    with pytest.raises(QueueUnavailableError, match="^the server's state folder cannot be "
                       "written$"):
        JobQueue()


def test_a_redis_that_cannot_be_reached_is_a_plain_error(stores, redis_server):
    queue = JobQueue(redis_server.url)
    assert queue.sound() and queue.view().jobs == []
    redis_server.stop()
    for read in (queue.sound, queue.view):
        with pytest.raises(QueueUnavailableError, match="^the queue server cannot be reached$"):
            read()
