"""Job records every web replica and worker can read: settings, status, progress, history.

A record is a flat JSON object keyed by job id. Two backends with one interface, and
`open_job_store` opens the one the shared state's backend (`state.open_backend`) names:

- `SqliteJobStore`: a table in a SQLite file in the state folder (one machine);
- `RedisJobStore`: one key per job plus a sorted index, in the Redis that carries the
  queue (many hosts).

Writers change only the fields they own (the training process its progress, the page
its stop request), and `update` can be made conditional on the current status, so a
stop that races a job's start cannot be lost or undone. Whatever must look at many
records before it writes (checking the limits before a run is added, choosing the next
run to start) goes through `transact`, one atomic step against every other writer.
Workers also register here with a heartbeat, so pages can tell how many are alive.
The SQLite file is opened as every shared store's is (`shared.sqlite.SqliteFile`: a
damaged one set aside).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from mnist_core.shared.sqlite import SqliteFile, Transaction
from mnist_core.shared.state import REDIS, Backend

WORKER_TTL = 15.0  # s without a heartbeat after which a worker counts as gone

log = logging.getLogger(__name__)


class JobStore:
    """The interface both backends implement."""

    # What a store raises while it cannot be reached for a while (Redis restarting, a
    # SQLite file locked past its timeout): worth trying again, not a bug.
    transient: tuple[type[Exception], ...] = (sqlite3.OperationalError,)

    def just_started(self, within: float) -> bool:
        """Whether the store came back (a restart) less than `within` seconds ago, so a
        heartbeat that looks old may only be one that could not be written."""
        return False

    def create(self, record: dict) -> None:
        """Add a new record (`record["id"]` and `record["created"]` are required)."""
        raise NotImplementedError

    def get(self, job_id: str) -> dict | None:
        raise NotImplementedError

    def transact(self, decide: Callable[[list[dict]], list[dict]]) -> list[dict]:
        """One atomic step over the records: `decide` gets every record (oldest first)
        and returns the records to write, whole (new ones are added); no other writer
        gets in between. `decide` raises to write nothing; it may be called again if
        another writer got in first. Returns what was written."""
        raise NotImplementedError

    def update(self, job_id: str, fields: dict, *, if_status: Iterable[str] | None = None
               ) -> bool:
        """Merge `fields` into the record; with `if_status`, only while the record's
        status is one of those. Returns whether it changed."""
        raise NotImplementedError

    def all(self) -> list[dict]:
        """Every record, oldest first."""
        raise NotImplementedError

    def delete(self, job_id: str) -> None:
        raise NotImplementedError

    def beat(self, worker_id: str, info: dict) -> None:
        """Record that a worker is alive (and what it is doing)."""
        raise NotImplementedError

    def leave(self, worker_id: str) -> None:
        """Remove a worker that is shutting down."""
        raise NotImplementedError

    def workers(self) -> list[dict]:
        """The workers seen within `WORKER_TTL` seconds."""
        raise NotImplementedError


class SqliteJobStore(JobStore):
    """Records in a SQLite file; safe across threads and processes (WAL, busy timeout).
    A damaged file is moved aside and a fresh one started (`set_aside` names where)."""

    def __init__(self, path: str | Path):
        self.file = SqliteFile(path)
        self.path, self.set_aside = self.file.path, self.file.set_aside
        with self._connection() as db:
            db.execute(
                "create table if not exists jobs (id text primary key, created real not null,"
                " data text not null)"
            )
            db.execute(
                "create table if not exists workers (id text primary key, seen real not null,"
                " data text not null)"
            )

    def _connection(self, write: bool = True) -> Transaction:
        """This thread's connection inside a transaction (`SqliteFile.transaction`)."""
        return self.file.transaction(write)

    def create(self, record: dict) -> None:
        with self._connection() as db:
            db.execute(
                "insert into jobs (id, created, data) values (?, ?, ?)",
                (record["id"], record["created"], json.dumps(record)),
            )

    def transact(self, decide):
        with self._connection() as db:  # `begin immediate`: the write lock first
            rows = db.execute("select data from jobs order by created, id").fetchall()
            writes = decide([json.loads(row[0]) for row in rows])
            db.executemany(
                "insert or replace into jobs (id, created, data) values (?, ?, ?)",
                [(r["id"], r["created"], json.dumps(r)) for r in writes],
            )
        return writes

    def get(self, job_id: str) -> dict | None:
        with self._connection(write=False) as db:
            row = db.execute("select data from jobs where id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else None

    def update(self, job_id, fields, *, if_status=None) -> bool:
        allowed = None if if_status is None else set(if_status)
        with self._connection() as db:
            row = db.execute("select data from jobs where id = ?", (job_id,)).fetchone()
            if row is None:
                return False
            record = json.loads(row[0])
            if allowed is not None and record.get("status") not in allowed:
                return False
            record.update(fields)
            db.execute("update jobs set data = ? where id = ?", (json.dumps(record), job_id))
        return True

    def all(self) -> list[dict]:
        with self._connection(write=False) as db:
            rows = db.execute("select data from jobs order by created, id").fetchall()
        return [json.loads(row[0]) for row in rows]

    def delete(self, job_id: str) -> None:
        with self._connection() as db:
            db.execute("delete from jobs where id = ?", (job_id,))

    def beat(self, worker_id: str, info: dict) -> None:
        with self._connection() as db:
            db.execute(
                "insert or replace into workers (id, seen, data) values (?, ?, ?)",
                (worker_id, time.time(), json.dumps(info)),
            )

    def leave(self, worker_id: str) -> None:
        with self._connection() as db:
            db.execute("delete from workers where id = ?", (worker_id,))

    def workers(self) -> list[dict]:
        with self._connection() as db:
            db.execute("delete from workers where seen < ?", (time.time() - WORKER_TTL,))
            rows = db.execute("select id, seen, data from workers order by id").fetchall()
        return [json.loads(data) | {"id": wid, "seen": seen} for wid, seen, data in rows]


class RedisJobStore(JobStore):
    """Records as JSON strings under `<prefix>:job:<id>`, indexed by a sorted set."""

    def __init__(self, client, prefix: str = "mnist"):
        import redis

        self.client = client
        self.prefix = prefix
        self._index = f"{prefix}:jobs"
        self.transient = (redis.ConnectionError, redis.TimeoutError)

    def just_started(self, within: float) -> bool:
        return self.client.info("server")["uptime_in_seconds"] < within

    def _key(self, job_id: str) -> str:
        return f"{self.prefix}:job:{job_id}"

    def _worker_key(self, worker_id: str) -> str:
        return f"{self.prefix}:worker:{worker_id}"

    def create(self, record: dict) -> None:
        pipe = self.client.pipeline()
        pipe.set(self._key(record["id"]), json.dumps(record))
        pipe.zadd(self._index, {record["id"]: record["created"]})
        pipe.execute()

    def transact(self, decide):
        from redis import WatchError

        while True:
            with self.client.pipeline() as pipe:
                try:
                    # Watch the index (a record added or removed) and every record read:
                    # if any changes before EXEC, nothing is written and we read again.
                    pipe.watch(self._index)
                    ids = [_text(i) for i in pipe.zrange(self._index, 0, -1)]
                    keys = [self._key(i) for i in ids]
                    if keys:
                        pipe.watch(*keys)
                    records = [json.loads(d) for d in (pipe.mget(keys) if keys else []) if d]
                    writes = decide(records)
                    known = set(ids)
                    pipe.multi()
                    for record in writes:
                        pipe.set(self._key(record["id"]), json.dumps(record))
                        if record["id"] not in known:
                            pipe.zadd(self._index, {record["id"]: record["created"]})
                    pipe.execute()
                    return writes
                except WatchError:
                    continue

    def get(self, job_id: str) -> dict | None:
        data = self.client.get(self._key(job_id))
        return json.loads(data) if data else None

    def update(self, job_id, fields, *, if_status=None) -> bool:
        allowed = None if if_status is None else set(if_status)
        key = self._key(job_id)
        changed = False

        def merge(pipe) -> None:
            nonlocal changed
            data = pipe.get(key)
            changed = False
            if not data:
                return
            record = json.loads(data)
            if allowed is not None and record.get("status") not in allowed:
                return
            record.update(fields)
            pipe.multi()
            pipe.set(key, json.dumps(record))
            changed = True

        self.client.transaction(merge, key)  # retried if another writer got in between
        return changed

    def all(self) -> list[dict]:
        ids = [_text(i) for i in self.client.zrange(self._index, 0, -1)]
        if not ids:
            return []
        records = []
        for job_id, data in zip(ids, self.client.mget([self._key(i) for i in ids])):
            if data:
                records.append(json.loads(data))
            else:
                self.client.zrem(self._index, job_id)
        return records

    def delete(self, job_id: str) -> None:
        pipe = self.client.pipeline()
        pipe.delete(self._key(job_id))
        pipe.zrem(self._index, job_id)
        pipe.execute()

    def beat(self, worker_id: str, info: dict) -> None:
        self.client.set(
            self._worker_key(worker_id), json.dumps(info | {"seen": time.time()}),
            ex=int(WORKER_TTL),
        )

    def leave(self, worker_id: str) -> None:
        self.client.delete(self._worker_key(worker_id))

    def workers(self) -> list[dict]:
        keys = sorted(self.client.scan_iter(match=self._worker_key("*"), count=100))
        found = []
        for key, data in zip(keys, self.client.mget(keys) if keys else []):
            if data:
                found.append(json.loads(data) | {"id": _text(key).rsplit(":", 1)[-1]})
        return found


def open_job_store(backend: Backend, prefix: str = "mnist-training") -> JobStore:
    """The job records where `backend` keeps shared state: `jobs.db` in its state folder
    (a damaged file set aside), or keys under `prefix` in its Redis."""
    if backend.kind == REDIS:
        return RedisJobStore(backend.redis, prefix=prefix)
    return SqliteJobStore(backend.sqlite_path("jobs.db"))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def patiently(store: JobStore, call, what: str, patience: float, first_delay: float = 0.2):
    """`call()`, tried again with growing pauses (up to 5 s) while `store` cannot be
    reached, for at most `patience` seconds; then the last error is raised."""
    deadline = time.monotonic() + patience
    delay = first_delay
    warned = False
    while True:
        try:
            return call()
        except store.transient as err:
            if time.monotonic() + delay > deadline:
                raise
            if not warned:
                log.warning("cannot reach the queue to %s (%s); trying again", what, err)
                warned = True
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
