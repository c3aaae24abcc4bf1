"""The limits of a shared queue hold when many submits race: 20 threads at once, on
SQLite and on a real `redis-server`, never one run past any limit."""

from __future__ import annotations

import threading
import time

import pytest

from mnist_core.errors import JobError
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import ACTIVE, QUEUED, Limits

from .conftest import TINY

THREADS = 20


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, stores):
    """The queue URL of each backend: "" for SQLite in the state folder, else Redis."""
    if request.param == "sqlite":
        return ""
    return request.getfixturevalue("redis_url")


def race(url: str, limits: Limits, owners: list[str], addresses: list[str | None]):
    """Submit from `THREADS` threads released together, each with its own queue client
    (as separate web replicas would); returns the runs accepted and the refusals."""
    queues = [JobQueue(url, limits=limits) for _ in owners]
    start = threading.Barrier(len(owners))
    accepted, refused = [], []

    def submit(i: int) -> None:
        start.wait()
        try:
            accepted.append(queues[i].submit(TINY, f"race-{i}", owners[i],
                                             address=addresses[i]))
        except JobError as err:
            refused.append(str(err))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(len(owners))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(accepted) + len(refused) == len(owners)
    active = [r for r in queues[0].store.all() if r["status"] in ACTIVE]
    return accepted, refused, active


def owners(n: int) -> list[str]:
    return [f"o_owner-{i:026d}" for i in range(n)]


def test_one_owner_racing_gets_only_its_limit(backend):
    limits = Limits(runs_per_owner=2, queue_length=60)
    accepted, refused, active = race(backend, limits, ["o_alice-" + "1" * 26] * THREADS,
                                     [None] * THREADS)
    assert len(accepted) == 2 and len(active) == 2
    assert all("already have 2 runs" in message for message in refused)


def test_twenty_owners_racing_fill_the_queue_to_its_limit_and_no_further(backend):
    limits = Limits(runs_per_owner=2, queue_length=12)
    accepted, refused, active = race(backend, limits, owners(THREADS), [None] * THREADS)
    assert len(accepted) == 12 and len(active) == 12
    assert all("the queue is full" in message for message in refused)


def test_a_nearly_full_queue_takes_only_the_places_left(backend):
    limits = Limits(runs_per_owner=2, queue_length=60)
    queue = JobQueue(backend, limits=limits)
    now = time.time()
    for i in range(55):
        queue.store.create({"id": f"old{i:04d}", "owner": f"earlier-{i:04d}",
                            "name": f"old-{i}", "config": TINY.to_dict(), "status": QUEUED,
                            "created": now + i * 1e-3})
    accepted, refused, active = race(backend, limits, owners(THREADS), [None] * THREADS)
    assert len(accepted) == 5 and len(active) == 60
    assert all("the queue is full (60 runs" in message for message in refused)


def test_one_address_with_many_owner_ids_gets_only_the_address_limit(backend):
    limits = Limits(runs_per_owner=2, runs_per_address=4, queue_length=60)
    accepted, refused, active = race(backend, limits, owners(THREADS), ["10.0.0.7"] * THREADS)
    assert len(accepted) == 4 and len(active) == 4
    assert all("from your network address" in message for message in refused)
    assert all(r["address"] and "10.0.0.7" not in r["address"] for r in active)
    # another address is not held back by it
    other = JobQueue(backend, limits=limits).submit(TINY, "elsewhere", "o_owner-" + "9" * 26,
                                                     address="10.0.0.8")
    assert other.status == QUEUED
