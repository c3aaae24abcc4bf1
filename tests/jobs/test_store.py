"""`mnist_core.jobs.store`: the job records, opened through the shared-state backend
(`state.open_backend`) on SQLite and on a real `redis-server`, behave alike; and one
backend carries the queue, its records and the owner book together."""

from __future__ import annotations

import time

import pytest

from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import QUEUED, RUNNING, STOPPED
from mnist_core.jobs.store import RedisJobStore, SqliteJobStore, open_job_store
from mnist_core.shared.owners import OwnerBook, new_owner_id
from mnist_core.shared.state import REDIS, open_backend

from .conftest import ALICE, BOB, TINY


@pytest.fixture(params=["sqlite", "redis"])
def backend(request, tmp_path):
    """The shared-state backend of each kind: SQLite in a private state folder, or Redis."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else ""
    return open_backend(url, tmp_path / "state")


def record(job_id: str, owner: str = ALICE, **fields) -> dict:
    return {"id": job_id, "owner": owner, "name": job_id, "config": TINY.to_dict(),
            "status": QUEUED, "created": time.time()} | fields


def test_the_backend_gives_the_job_records_their_store(backend):
    store = open_job_store(backend)
    assert isinstance(store, RedisJobStore if backend.kind == REDIS else SqliteJobStore)
    if backend.kind == REDIS:
        assert store.client is backend.redis  # one connection pool for every store
    else:
        assert store.path == backend.sqlite_path("jobs.db") and store.path.is_file()


def test_records_are_written_read_updated_and_deleted_alike(backend):
    store = open_job_store(backend)
    store.create(record("a"))
    store.create(record("b", BOB))
    assert [r["id"] for r in store.all()] == ["a", "b"]
    assert store.update("a", {"status": RUNNING}, if_status=[QUEUED])
    assert not store.update("a", {"status": STOPPED}, if_status=[QUEUED])  # not queued now
    assert store.get("a")["status"] == RUNNING and store.get("nobody") is None
    store.delete("b")
    assert [r["id"] for r in store.all()] == ["a"]
    # another opening of the same backend sees the same records
    assert open_job_store(open_backend(backend.url or "", backend.folder)).get("a") == (
        store.get("a"))


def test_transact_reads_every_record_and_writes_what_it_decides(backend):
    store = open_job_store(backend)
    store.create(record("a"))

    def add_if_alone(records: list[dict]) -> list[dict]:
        if len(records) > 1:
            raise ValueError("not alone")
        return [record("b", BOB)]

    assert [r["id"] for r in store.transact(add_if_alone)] == ["b"]
    with pytest.raises(ValueError, match="not alone"):
        store.transact(add_if_alone)
    assert [r["id"] for r in store.all()] == ["a", "b"]


def test_workers_announce_themselves_and_leave(backend):
    store = open_job_store(backend)
    store.beat("host-1", {"threads": 2})
    assert [(w["id"], w["threads"]) for w in store.workers()] == [("host-1", 2)]
    store.leave("host-1")
    assert store.workers() == []


def test_one_backend_carries_the_queue_its_records_and_the_owner_book(backend, stores):
    queue = JobQueue(backend)
    book = OwnerBook(backend)
    assert queue.backend is backend and queue.state == backend.folder
    job = queue.submit(TINY, "shared", ALICE)
    assert open_job_store(backend).get(job.id)["kind"] == "train"
    phone = new_owner_id()
    assert book.claim(book.code(ALICE), phone, "10.0.0.1") == ALICE
    assert OwnerBook(open_backend(backend.url or "", backend.folder)).owner_of(phone) == ALICE
    if backend.kind == REDIS:  # the queue's messages share the records' connections
        assert queue.huey.storage.pool is backend.redis.connection_pool
        assert queue.backend.durability().kept is True  # the job tests' Redis is append-only
