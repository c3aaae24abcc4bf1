"""The training queue as the pages use it: submit, stop and read jobs.

    queue = JobQueue.from_env()
    job = queue.submit(TrainConfig("fast-cnn"), "my-fast-cnn", owner)
    queue.job(job.id)          # status, queue position, progress, history, card
    queue.stop(job.id, owner)  # queued: never starts; running: ends after the batch

Where it lives is the shared state's backend (`state.open_backend`): with nothing
configured a `SqliteHuey` in the state folder (`var/`); with `MNIST_QUEUE_URL=redis://
host:6379/0` a `RedisHuey`, so any number of workers on any hosts consume it and every
web replica reads the same records (`store`). Submitting only queues: workers (`worker`)
train, and whoever runs the app starts one. The client never imports the worker: a
queue that runs its own jobs (`worker.immediate_queue`, for tests) is handed one.

A job record names its kind, which says what its process (`run`) does with it: a
training run (`records.TRAIN`; a record without a kind is one), a teach run
(`records.TEACH`, `submit_teach`), whose drawings stay in the drawings store: the
record holds its settings and how many drawings there were, never the drawings; or a
saved model's neighbour index (`records.INDEX`, `submit_index`).

Opening a SQLite queue moves a damaged `queue.db` or `jobs.db` aside and starts afresh
(`set_aside` lists what moved); a state folder that cannot be written, or a Redis that
cannot be reached, is a `QueueUnavailableError` in plain words.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import time
import uuid
from dataclasses import replace
from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey

from mnist_core.errors import JobError, ModelProtectedError, QueueUnavailableError
from mnist_core.jobs.checks import check_name, checked_run, checked_teach
from mnist_core.jobs.records import (
    ENDED,
    FAILED,
    INDEX,
    QUEUED,
    RUNNING,
    STOPPED,
    TEACH,
    TRAIN,
    Job,
    Limits,
    QueueView,
    address_key,
    estimate,
    fair_order,
    measured_rates,
    next_turn,
    refusal,
    serving_turn,
)
from mnist_core.jobs.store import JobStore, open_job_store
from mnist_core.shared.drawings import DrawingsStore
from mnist_core.shared.owners import check_owner
from mnist_core.shared.sqlite import is_damage, set_aside_if_damaged
from mnist_core.shared.state import SQLITE, Backend, open_backend
from mnist_core.store import registry
from mnist_core.training.config import TeachConfig, TrainConfig

log = logging.getLogger(__name__)

STALE_AFTER = 30.0  # s without a heartbeat after which a running job has lost its worker
RETENTION = 7 * 24 * 3600.0  # s an ended job's record is kept


def train(supervisor, job_id: str) -> None:
    """The Huey task: train queued job `job_id`.

    It runs where the queue is consumed, and the consumer's `worker.Supervisor` (Huey's
    context, see `declare_train`) trains the run that is next in the fair order: each
    message wakes a worker for one run, and the records (not Huey's first-in,
    first-out) say which. `job_id` is the run the message was sent for."""
    supervisor.run_next(job_id)


def make_huey(backend: Backend, name: str, *, immediate: bool = False) -> Huey:
    """The Huey carrying the queue: `queue.db` in the state folder, or the backend's
    Redis (its connection pool shared with the records)."""
    if backend.kind == SQLITE:
        return SqliteHuey(name, filename=str(backend.sqlite_path("queue.db")),
                          immediate=immediate)
    return RedisHuey(name, connection_pool=backend.redis.connection_pool,
                     immediate=immediate)


def declare_train(huey: Huey, supervisor=None):
    """Register `train` on `huey`, run with `supervisor` wherever `huey` consumes it (a
    queue that only enqueues needs none). Returns the task to call with a job id."""
    context = contextlib.nullcontext(supervisor)
    return huey.context_task(context, as_argument=True, name="train")(train)


class JobQueue:
    """The queue and its job records, for the pages (and a worker's reading of them).

    `backend`: where they live (`state.open_backend`); a URL (None or "": SQLite in
    `state`, default the state folder; else `redis://...`) opens one. `immediate` is
    Huey's immediate mode: a job runs inside `submit`, by the worker's side handed to
    `consume_here` (`worker.immediate_queue`).
    """

    def __init__(
        self,
        backend: Backend | str | None = None,
        state: str | os.PathLike | None = None,
        *,
        name: str = "mnist-training",
        immediate: bool = False,
        limits: Limits | None = None,
        stale_after: float = STALE_AFTER,
    ):
        if not isinstance(backend, Backend):
            backend = open_backend(backend or "", state)
        self.backend = backend
        self.name = name
        self.limits = limits or Limits.from_env()
        self.stale_after = stale_after
        self._train = None  # the Huey task, declared with its first message
        if backend.kind == SQLITE:
            try:
                self.state.mkdir(parents=True, exist_ok=True)
                self.store: JobStore = open_job_store(backend, name)
                queue_aside = set_aside_if_damaged(backend.sqlite_path("queue.db"))
                self.huey = make_huey(backend, name, immediate=immediate)
            except (OSError, sqlite3.Error) as err:
                log.error("cannot open the training queue in %s: %s", self.state, err)
                raise QueueUnavailableError(
                    "the server's state folder cannot be written"
                ) from err
            # damaged files moved aside on opening
            self.set_aside = [p for p in (self.store.set_aside, queue_aside) if p]
        else:
            self.store = open_job_store(backend, name)
            self.huey = make_huey(backend, name, immediate=immediate)
            self.set_aside = []

    @classmethod
    def from_env(cls) -> JobQueue:
        """The queue this deployment is configured for (`MNIST_QUEUE_URL`, state folder)."""
        return cls(open_backend())

    @property
    def url(self) -> str | None:
        """The Redis URL, None on SQLite."""
        return self.backend.url

    @property
    def state(self) -> Path:
        """The state folder (a local worker's lock, pid and log go there too)."""
        return self.backend.folder

    def consume_here(self, supervisor) -> None:
        """Run the jobs this queue sends with `supervisor` (a `worker.Supervisor`), in
        this process: in immediate mode, inside `submit`."""
        self._train = declare_train(self.huey, supervisor)

    def _send(self, job_id: str) -> None:
        """A message that wakes a worker for run `job_id`."""
        if self._train is None:
            self._train = declare_train(self.huey)
        self._train(job_id)

    def sound(self) -> bool:
        """Whether the queue can be read now. False when its SQLite files were damaged
        since it was opened (open a new `JobQueue` to set them aside); a queue that
        cannot be reached or read at all raises `QueueUnavailableError`."""
        try:
            self.store.all()
            self.huey.pending_count()
        except sqlite3.DatabaseError as err:
            if is_damage(err):
                log.error("the training queue in %s is damaged: %s", self.state, err)
                return False
            log.error("cannot read the training queue in %s: %s", self.state, err)
            raise QueueUnavailableError("the server's state folder cannot be read") from err
        except self.store.transient as err:
            log.error("cannot reach the training queue at %s: %s", self.url, err)
            raise QueueUnavailableError("the queue server cannot be reached") from err
        return True

    def env(self) -> dict[str, str]:
        """Environment for a process that must reach this same queue."""
        return os.environ | self.backend.env()

    def submit(self, config: TrainConfig, name: str, owner: str, *,
               overwrite: bool = False, address: str | None = None) -> Job:
        """Queue a run that trains `config` and saves the model as `name` for `owner`,
        asked for from client `address` (None: not counted per address).

        Raises `OwnerError` (an owner id the app did not make), `JobError` (bad
        settings, a limit reached, a name taken or in use) or `ModelProtectedError` (a
        shipped model's name, another owner's model), each with a message for the
        person; nothing is queued then. The limits are checked and the run recorded in
        one atomic step, so racing submits cannot pass them. Starts no worker.
        """
        check_owner(owner)
        cfg = checked_run(config)
        check_name(name, owner, overwrite)
        if cfg.image_epochs > self.limits.image_epochs:
            raise JobError(
                f"this run would fit {cfg.image_epochs:,} images ({cfg.epochs} epochs x "
                f"{cfg.fit_images:,} images); runs here are limited to "
                f"{self.limits.image_epochs:,}: use fewer epochs or training images"
            )
        return self._enqueue(TRAIN, cfg, name, owner, overwrite, address)

    def submit_teach(self, config: TeachConfig, name: str, owner: str, *,
                     overwrite: bool = False, address: str | None = None) -> Job:
        """Queue a teach run: `config.base` fitted further on `owner`'s kept drawings
        (with `config.include_shared`, also those others share), saved as `name` for
        `owner`. Refused as `submit` refuses, and with a `JobError` saying how many
        drawings of each digit are needed when some digit has too few. Its process
        takes the drawings from the drawings store on this queue's backend."""
        check_owner(owner)
        teach, run, drawings = checked_teach(config, owner, DrawingsStore(self.backend))
        check_name(name, owner, overwrite)
        images = teach.images(drawings)
        if images > self.limits.image_epochs:
            raise JobError(f"this teach run would fit {images:,} images; runs here are "
                           f"limited to {self.limits.image_epochs:,}: use fewer epochs")
        return self._enqueue(TEACH, run, name, owner, overwrite, address,
                             {"teach": teach.to_dict(), "drawings": drawings})

    def submit_index(self, name: str, owner: str) -> Job:
        """Queue an index job: stored model `name`'s training digits most like a drawing
        (`store.neighbours`), built beside it, for `owner` (the worker queues one after
        each run it saves). Within no limit (`records.refusal`); where one for `name` is
        already waiting, that one is returned instead of a second."""
        check_owner(owner)
        registry.validate_name(name)
        for job in self.view().jobs:
            if job.kind == INDEX and job.name == name and job.status == QUEUED:
                return job
        return self._enqueue(INDEX, None, name, owner, False, None)

    def _enqueue(self, kind: str, cfg: TrainConfig | None, name: str, owner: str,
                 overwrite: bool, address: str | None, fields: dict | None = None) -> Job:
        """Record a checked job, within the limits, and send its message."""
        self._records()  # first fail runs whose worker died: they hold no place
        record = {
            "id": uuid.uuid4().hex[:12], "kind": kind, "owner": owner, "name": name,
            "overwrite": overwrite, "status": QUEUED, "created": time.time(),
            "address": address_key(address),
        } | ({"config": cfg.to_dict()} if cfg else {}) | (fields or {})
        self.store.transact(lambda records: [self._admit(record, records)])
        self._send(record["id"])  # immediate mode: runs to the end right here
        return self.job(record["id"])

    def _admit(self, record: dict, records: list[dict]) -> dict:
        """`record` with its turn if the limits leave room for it beside `records`
        (`records.refusal`), else `JobError`."""
        problem = refusal(record, records, self.limits)
        if problem:
            raise JobError(problem)
        turn = serving_turn(records) if record["kind"] == INDEX else \
            next_turn(records, record["owner"])
        return record | {"turn": turn}

    def claim(self, worker: str) -> str | None:
        """Mark the next queued run in the fair order as `worker`'s and return its id
        (None when nothing waits); one atomic step, so no run is claimed twice."""
        now = time.time()

        def take(records: list[dict]) -> list[dict]:
            waiting = fair_order(records)
            if not waiting:
                return []
            return [waiting[0] | {"status": RUNNING, "started": now, "heartbeat": now,
                                  "worker": worker}]

        taken = self.store.transact(take)
        return taken[0]["id"] if taken else None

    def free_name(self, wanted: str) -> str:
        """`wanted` if no model has it and no active run will save one under it, else
        the next free `wanted-2`, `wanted-3`, ... (a name ending in a number counts on)."""
        active = {job.name for job in self.view().jobs if job.active}

        def taken(name: str) -> bool:
            return name in active or registry.model_exists(name)

        if not taken(wanted):
            return wanted
        stem, _, number = wanted.rpartition("-")
        if not (stem and number.isdigit()):
            stem = wanted
        n = 2
        while taken(candidate := f"{stem[:63 - len(str(n))]}-{n}"):
            n += 1
        return candidate

    def stop(self, job_id: str, owner: str) -> Job:
        """Stop `owner`'s job: a queued one never starts, a running one ends after the
        current batch and saves its best whole epoch. Someone else's job is refused."""
        record = self.store.get(job_id)
        if record is None:
            raise JobError(f"there is no run {job_id!r}")
        if record["owner"] != owner:
            raise ModelProtectedError("that run belongs to someone else; only they can stop it")
        now = time.time()
        self.store.update(
            job_id,
            {"status": STOPPED, "stop_requested": now, "ended": now,
             "message": "Stopped before it started; nothing was trained."},
            if_status=[QUEUED],
        ) or self.store.update(job_id, {"stop_requested": now}, if_status=[RUNNING])
        return self.job(job_id)

    def job(self, job_id: str) -> Job:
        for job in self.view().jobs:
            if job.id == job_id:
                return job
        raise JobError(f"there is no run {job_id!r}")

    def view(self) -> QueueView:
        """Every job with queue positions and start estimates, and the live workers
        (`QueueUnavailableError` while the queue server cannot be reached)."""
        try:
            records = self._records()
            workers = self.store.workers()
        except self.store.transient as err:
            log.warning("cannot reach the training queue: %s", err)
            raise QueueUnavailableError("the queue server cannot be reached") from err
        slots = max(1, sum(int(w.get("threads", 1)) for w in workers))
        rates = measured_rates(records)
        jobs = [Job.from_record(r, estimate=estimate(r, rates)) for r in records]
        # when each worker slot is next free, soonest first
        free_in = sorted(job.eta or 0.0 for job in jobs if job.status == RUNNING)[:slots]
        free_in += [0.0] * (slots - len(free_in))
        index = {job.id: i for i, job in enumerate(jobs)}
        for position, record in enumerate(fair_order(records), start=1):
            i = index[record["id"]]
            slot = min(range(slots), key=free_in.__getitem__)
            jobs[i] = replace(jobs[i], position=position, starts_in=free_in[slot])
            free_in[slot] += jobs[i].estimate
        return QueueView(jobs, workers)

    def requeue_lost(self) -> int:
        """Send a message again for each queued run that has none (the records are the
        truth; Huey's messages only wake workers): a Redis that restarted without its
        data, a flushed queue key, a SQLite queue file set aside. Returns how many were
        sent; a spare message wakes a worker that then finds nothing, which is harmless."""
        waiting = fair_order(self._records())
        missing = len(waiting) - self.huey.pending_count()
        for record in waiting[len(waiting) - missing:] if missing > 0 else []:
            self._send(record["id"])
        return max(0, missing)

    def _records(self) -> list[dict]:
        """All records, after failing running jobs whose worker died and dropping old ones.

        A job whose heartbeat went stale (its worker was killed) is marked failed by
        whoever reads it next; models are never touched by that."""
        now = time.time()
        records = []
        # Just after a Redis restart every heartbeat looks old: give workers time to beat.
        restarted = None
        for record in self.store.all():
            status = record["status"]
            stale = status == RUNNING and now - record.get("heartbeat", now) > self.stale_after
            if stale and restarted is None:
                restarted = self.store.just_started(self.stale_after)
            if stale and not restarted:
                message = (
                    f"There was no sign of life from the worker training it for "
                    f"{self.stale_after:.0f} s (it stopped, or lost contact with the queue), "
                    "so the run was given up; nothing was saved and every existing model "
                    "is unchanged."
                )
                if self.store.update(
                    record["id"], {"status": FAILED, "ended": now, "message": message},
                    if_status=[RUNNING],
                ):
                    record = self.store.get(record["id"]) or record
            elif status in ENDED and now - (record.get("ended") or now) > RETENTION:
                self.store.delete(record["id"])
                continue
            records.append(record)
        return records

