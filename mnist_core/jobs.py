"""Training as queued jobs: Huey carries them, worker processes run them, anyone reads them.

    queue = JobQueue.from_env()
    job = queue.submit(TrainConfig("fast-cnn"), "my-fast-cnn", owner="a1b2c3")
    queue.job(job.id)              # status, queue position, progress, history, card
    queue.stop(job.id, "a1b2c3")   # queued: never starts; running: ends after the batch

With nothing configured the queue is a `SqliteHuey` in the state folder (`var/`), and
the first submit starts one local worker (`python -m mnist_core worker`) if none is
alive. `MNIST_QUEUE_URL=redis://host:6379/0` switches to `RedisHuey`; then any number
of workers on any hosts consume it and the pages of every web replica read the same
records (`mnist_core.jobstore`).

A worker only hands jobs on: each job trains in a fresh process of its own
(`python -m mnist_core run-job ID`, niced below the web server) that imports
TensorFlow, writes progress to the job's record, saves through the model store
(atomically) and exits, returning its memory. The worker's thread waits for it,
keeps the record's heartbeat fresh and kills it if it ignores a stop for
`stop_grace` seconds. A job whose heartbeat goes stale (its worker was killed) is
marked failed by whoever reads it next; models are never touched by that.

This module imports neither TensorFlow nor Keras, so a worker stays light.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

from huey import RedisHuey, SqliteHuey

from mnist_core import registry
from mnist_core.card import ModelCard
from mnist_core.config import TrainConfig
from mnist_core.errors import JobError, MnistCoreError, ModelProtectedError
from mnist_core.jobstore import JobStore, RedisJobStore, SqliteJobStore
from mnist_core.state import STATE_DIR_ENV, state_dir

log = logging.getLogger(__name__)

QUEUE_URL_ENV = "MNIST_QUEUE_URL"
AUTOSTART_ENV = "MNIST_AUTOSTART_WORKER"  # "0": the app never starts a worker itself
QUEUED, RUNNING, FINISHED, STOPPED, FAILED = "queued", "running", "finished", "stopped", "failed"
ACTIVE = (QUEUED, RUNNING)
ENDED = (FINISHED, STOPPED, FAILED)

HEARTBEAT_EVERY = 2.0  # s between heartbeats of a running job
STALE_AFTER = 30.0  # s without a heartbeat after which a running job has lost its worker
STOP_GRACE = 60.0  # s a running job may take to honour a stop before it is killed
PROGRESS_EVERY = 1.0  # s between progress writes of a training process
RETENTION = 7 * 24 * 3600.0  # s an ended job's record is kept
TRAINING_NICENESS = 10  # training processes yield the CPU to the web server

# Images fitted per second on 2 CPU cores, by architecture, for queue time estimates
# until a finished run of that architecture gives a measured figure; plus start-up.
TYPICAL_IMAGES_PER_S = {
    "fast-cnn": 2700, "cnn": 1000, "seed-cnn": 4500, "mlp-784-784-256-128-relu": 1900,
}
OTHER_IMAGES_PER_S = 8000
START_SECONDS = 15.0

OWNER_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")


@dataclass(frozen=True)
class Limits:
    """What one visitor may ask of a shared deployment; each set by an environment
    variable (`MNIST_MAX_RUNS_PER_OWNER`, `MNIST_MAX_IMAGE_EPOCHS`, `MNIST_MAX_QUEUE`)."""

    runs_per_owner: int = 2  # queued or training at once
    image_epochs: int = 1_000_000  # images fitted per epoch x epochs; the full `cnn` fits
    queue_length: int = 60  # queued or training, all visitors together

    @classmethod
    def from_env(cls) -> Limits:
        def number(name: str, default: int) -> int:
            text = os.environ.get(name)
            if not text:
                return default
            try:
                value = int(text)
            except ValueError:
                raise ValueError(f"{name} must be a whole number, got {text!r}") from None
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
            return value

        return cls(
            runs_per_owner=number("MNIST_MAX_RUNS_PER_OWNER", cls.runs_per_owner),
            image_epochs=number("MNIST_MAX_IMAGE_EPOCHS", cls.image_epochs),
            queue_length=number("MNIST_MAX_QUEUE", cls.queue_length),
        )


@dataclass(frozen=True)
class Job:
    """One training run as its record says, with its place in the queue worked out."""

    id: str
    owner: str
    name: str
    config: TrainConfig
    status: str
    created: float
    started: float | None = None
    ended: float | None = None
    message: str | None = None
    progress: dict | None = None  # epoch, epochs, step, steps, elapsed, fraction, eta
    history: dict = field(default_factory=dict)
    card: ModelCard | None = None  # the saved model's, once it is saved
    stop_requested: float | None = None
    worker: str | None = None
    position: int | None = None  # 1 = next to start (queued jobs only)
    starts_in: float | None = None  # estimated seconds until it starts (queued jobs)
    estimate: float | None = None  # estimated seconds the whole run takes

    @classmethod
    def from_record(cls, record: dict, **extra) -> Job:
        return cls(
            id=record["id"], owner=record["owner"], name=record["name"],
            config=TrainConfig.from_dict(record["config"]), status=record["status"],
            created=record["created"], started=record.get("started"),
            ended=record.get("ended"), message=record.get("message"),
            progress=record.get("progress"), history=record.get("history") or {},
            card=ModelCard.from_json(record["card"]) if record.get("card") else None,
            stop_requested=record.get("stop_requested"),
            worker=record.get("worker"), **extra,
        )

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def stopping(self) -> bool:
        return self.status == RUNNING and self.stop_requested is not None

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.time()) - self.started

    @property
    def fraction(self) -> float:
        return float(self.progress["fraction"]) if self.progress else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the pace so far (None before the first batches)."""
        if self.status != RUNNING:
            return None
        # The pace of the first few batches says little; the estimate says more then.
        if self.progress and self.progress.get("eta") is not None and self.fraction >= 0.05:
            behind = time.time() - self.progress.get("written", time.time())
            return max(0.0, self.progress["eta"] - behind)
        if self.estimate is not None:
            return max(0.0, self.estimate - self.elapsed)
        return None


@dataclass(frozen=True)
class QueueView:
    """Every job (oldest first), the live workers and the queue's length."""

    jobs: list[Job]
    workers: list[dict]

    @property
    def waiting(self) -> int:
        return sum(job.status == QUEUED for job in self.jobs)

    @property
    def training(self) -> int:
        return sum(job.status == RUNNING for job in self.jobs)

    def owned_by(self, owner: str) -> list[Job]:
        """`owner`'s jobs, newest first."""
        return [job for job in reversed(self.jobs) if job.owner == owner]


class JobQueue:
    """The queue, its job records and the task that workers run.

    `url`: None or "" for SQLite in `state` (default: the state folder), or a
    `redis://` URL. `immediate` runs each job inside `submit` (Huey's immediate mode,
    for tests). `train_in_subprocess` False trains in the calling process instead of a
    fresh one (immediate-mode tests only).
    """

    def __init__(
        self,
        url: str | None = None,
        state: str | os.PathLike | None = None,
        *,
        name: str = "mnist-training",
        immediate: bool = False,
        train_in_subprocess: bool = True,
        limits: Limits | None = None,
        autostart_worker: bool | None = None,
        stale_after: float = STALE_AFTER,
        stop_grace: float = STOP_GRACE,
    ):
        self.url = url or None
        self.state = Path(state) if state is not None else state_dir()
        self.limits = limits or Limits.from_env()
        self.stale_after, self.stop_grace = stale_after, stop_grace
        self.train_in_subprocess = train_in_subprocess
        if self.url is None:
            self.state.mkdir(parents=True, exist_ok=True)
            self.huey = SqliteHuey(name, filename=str(self.state / "queue.db"))
            self.store: JobStore = SqliteJobStore(self.state / "jobs.db")
        elif self.url.startswith(("redis://", "rediss://", "unix://")):
            import redis

            self.huey = RedisHuey(name, url=self.url)
            self.store = RedisJobStore(redis.Redis.from_url(self.url), prefix=name)
        else:
            raise ValueError(
                f"{QUEUE_URL_ENV} must be empty (SQLite in the state folder) or a redis:// "
                f"URL, got {self.url!r}"
            )
        if autostart_worker is None:
            autostart_worker = self.url is None and os.environ.get(AUTOSTART_ENV) != "0"
        self.autostart_worker = autostart_worker and not immediate
        self.huey.immediate = immediate
        self._train = self.huey.task(name="train")(self._run_job)
        self._children: dict[str, subprocess.Popen] = {}
        self._shutting_down = threading.Event()
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}"

    @classmethod
    def from_env(cls) -> JobQueue:
        """The queue this deployment is configured for (`MNIST_QUEUE_URL`, state folder)."""
        return cls(os.environ.get(QUEUE_URL_ENV))

    @property
    def backend(self) -> str:
        return "SQLite" if self.url is None else "Redis"

    def env(self) -> dict[str, str]:
        """Environment for a process that must reach this same queue."""
        return os.environ | {QUEUE_URL_ENV: self.url or "", STATE_DIR_ENV: str(self.state)}

    # ----- what the pages call -------------------------------------------------------

    def submit(self, config: TrainConfig, name: str, owner: str, *,
               overwrite: bool = False) -> Job:
        """Queue a run that trains `config` and saves the model as `name` for `owner`.

        Raises `JobError` (bad settings, a limit reached, a name taken or in use) or
        `ModelProtectedError` (a shipped model's name, another owner's model), each
        with a message for the person; nothing is queued then.
        """
        check_owner(owner)
        registry.validate_name(name)
        cfg = _checked(config)
        if registry.is_shipped(name):
            raise ModelProtectedError(
                f"{name!r} is a shipped model and cannot be replaced; choose another name"
            )
        if registry.model_exists(name):
            if not overwrite:
                raise JobError(f"a model named {name!r} already exists; choose another name")
            if registry.read_card(name).owner != owner:
                raise ModelProtectedError(
                    f"{name!r} was trained by someone else; choose another name"
                )
        if cfg.image_epochs > self.limits.image_epochs:
            raise JobError(
                f"this run would fit {cfg.image_epochs:,} images ({cfg.epochs} epochs x "
                f"{cfg.fit_images:,} images); runs here are limited to "
                f"{self.limits.image_epochs:,}: use fewer epochs or training images"
            )
        active = [r for r in self._records() if r["status"] in ACTIVE]
        if any(r["name"] == name for r in active):
            raise JobError(f"a run is already training a model named {name!r}; choose another name")
        mine = sum(r["owner"] == owner for r in active)
        if mine >= self.limits.runs_per_owner:
            raise JobError(
                f"you already have {mine} runs queued or training (the limit is "
                f"{self.limits.runs_per_owner}); wait for one to finish or stop one"
            )
        if len(active) >= self.limits.queue_length:
            raise JobError(
                f"the queue is full ({len(active)} runs queued or training); try again later"
            )
        job_id = uuid.uuid4().hex[:12]
        self.store.create({
            "id": job_id, "owner": owner, "name": name, "config": cfg.to_dict(),
            "overwrite": overwrite, "status": QUEUED, "created": time.time(),
        })
        if self.autostart_worker:
            self.ensure_worker()
        self._train(job_id)  # immediate mode: runs to the end right here
        return self.job(job_id)

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
        """Every job with queue positions and start estimates, and the live workers."""
        records = self._records()
        workers = self.store.workers()
        slots = max(1, sum(int(w.get("threads", 1)) for w in workers))
        rates = _measured_rates(records)
        jobs = [Job.from_record(r, estimate=_estimate(r, rates)) for r in records]
        # when each worker slot is next free, soonest first
        free_in = sorted(job.eta or 0.0 for job in jobs if job.status == RUNNING)[:slots]
        free_in += [0.0] * (slots - len(free_in))
        position = 0
        for i, job in enumerate(jobs):
            if job.status == QUEUED:
                position += 1
                slot = min(range(slots), key=free_in.__getitem__)
                jobs[i] = replace(job, position=position, starts_in=free_in[slot])
                free_in[slot] += job.estimate
        return QueueView(jobs, workers)

    def ensure_worker(self) -> bool:
        """Start a local worker process if none is alive; True if one was started.

        Only one starter at a time (a lock file), and a worker still starting up (its
        pid file is fresh) counts as alive. The worker exits when this process does.
        """
        if self.store.workers():
            return False
        import fcntl

        self.state.mkdir(parents=True, exist_ok=True)
        with open(self.state / "worker-start.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False  # another process is starting one right now
            pid_file = self.state / "worker.pid"
            with contextlib.suppress(OSError, ValueError):
                if time.time() - pid_file.stat().st_mtime < 30 and _alive(
                    int(pid_file.read_text())
                ):
                    return False
            if self.store.workers():
                return False
            with open(self.state / "worker.log", "ab") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "mnist_core", "worker", "--exit-with",
                     str(os.getpid())],
                    env=self.env(), stdout=out, stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL, cwd=Path(__file__).resolve().parent.parent,
                )
            _started_workers.append(process)
            pid_file.write_text(str(process.pid))
            log.info("started a local training worker, pid %d", process.pid)
            return True

    # ----- what workers run ------------------------------------------------------------

    def _records(self) -> list[dict]:
        """All records, after failing running jobs whose worker died and dropping old ones."""
        now = time.time()
        records = []
        for record in self.store.all():
            status = record["status"]
            if status == RUNNING and now - record.get("heartbeat", now) > self.stale_after:
                message = (
                    f"The worker training it stopped (no sign of life for "
                    f"{self.stale_after:.0f} s), so the run was lost; nothing was saved and "
                    "every existing model is unchanged."
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

    def _run_job(self, job_id: str) -> None:
        """The Huey task: claim a queued job and train it; a stopped one is skipped."""
        now = time.time()
        claimed = self.store.update(
            job_id, {"status": RUNNING, "started": now, "heartbeat": now,
                     "worker": self.worker_id},
            if_status=[QUEUED],
        )
        if not claimed:
            return  # stopped while queued, or already taken
        if self.train_in_subprocess:
            self._train_in_child(job_id)
        else:
            train_job(self, job_id)

    def _train_in_child(self, job_id: str) -> None:
        """Train in a fresh, niced process; keep its heartbeat; enforce stops."""
        process = subprocess.Popen(
            [sys.executable, "-m", "mnist_core", "run-job", job_id],
            env=self.env(), stdin=subprocess.DEVNULL, preexec_fn=_child_setup,
            cwd=Path(__file__).resolve().parent.parent,
        )
        self._children[job_id] = process
        self.store.update(job_id, {"pid": process.pid}, if_status=[RUNNING])
        killed_for = None
        try:
            while True:
                try:
                    process.wait(timeout=HEARTBEAT_EVERY)
                    break
                except subprocess.TimeoutExpired:
                    pass
                self.store.update(job_id, {"heartbeat": time.time()}, if_status=[RUNNING])
                if killed_for is None:
                    record = self.store.get(job_id) or {}
                    asked = record.get("stop_requested")
                    if self._shutting_down.is_set():
                        killed_for = "shutdown"
                    elif asked is not None and time.time() - asked > self.stop_grace:
                        killed_for = "stop"
                    if killed_for is not None:
                        process.kill()
        finally:
            self._children.pop(job_id, None)
        code = process.returncode
        if killed_for == "stop":
            status, message = STOPPED, (
                f"It did not stop within {self.stop_grace:.0f} s of the request, so it was "
                "ended; the model was not saved."
            )
        elif killed_for == "shutdown":
            status, message = FAILED, (
                "The worker was shut down while this run trained; nothing was saved."
            )
        else:
            status, message = FAILED, (
                f"The training process ended unexpectedly ({_describe_exit(code)}); "
                "nothing was saved and every existing model is unchanged."
            )
        # Only if the process did not record its own ending (it normally does).
        self.store.update(
            job_id, {"status": status, "ended": time.time(), "message": message},
            if_status=[RUNNING],
        )

    def shutdown(self) -> None:
        """End this worker's training processes; their jobs are marked failed."""
        self._shutting_down.set()
        for process in list(self._children.values()):
            with contextlib.suppress(ProcessLookupError):
                process.kill()


_started_workers: list[subprocess.Popen] = []  # kept so they are reaped, not zombies


def check_owner(owner: str) -> str:
    """An owner id is 8-64 lowercase letters, digits or '-' (a random token)."""
    if not isinstance(owner, str) or not 8 <= len(owner) <= 64 or set(owner) - OWNER_CHARS:
        raise JobError(f"invalid owner id {owner!r}")
    return owner


def new_owner_id() -> str:
    """A fresh random owner id for a browser session."""
    return uuid.uuid4().hex


def _checked(config: TrainConfig) -> TrainConfig:
    try:
        return config.resolved()
    except ValueError as err:
        raise JobError(str(err)) from err


def _measured_rates(records: list[dict]) -> dict[str, float]:
    """Images fitted per second by architecture, from the latest finished runs here."""
    rates = {}
    for r in records:
        card = r.get("card") or {}
        seconds, images = card.get("training_seconds"), card.get("train_images")
        if r["status"] == FINISHED and seconds and images:
            rates[card.get("architecture")] = images * card["epochs_run"] / seconds
    return rates


def _estimate(record: dict, rates: dict[str, float]) -> float:
    """Seconds the run should take: its images x epochs at the architecture's pace."""
    config = TrainConfig.from_dict(record["config"])
    rate = rates.get(config.architecture) or TYPICAL_IMAGES_PER_S.get(
        config.architecture, OTHER_IMAGES_PER_S
    )
    return START_SECONDS + config.image_epochs / rate


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _child_setup() -> None:
    """In the training process before it starts: lower its priority, and have Linux
    kill it if the worker thread that started it dies (no orphaned training).

    On Linux it runs under SCHED_IDLE: it gets only CPU time nothing else wants, so a
    web server on the same machine answers drawings as if it trained nothing; a
    dedicated worker host loses nothing by it. Elsewhere it is niced.
    """
    os.nice(TRAINING_NICENESS)
    if hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit code"
    if code < 0:
        name = signal.Signals(-code).name
        hint = ": killed, perhaps for lack of memory" if -code == signal.SIGKILL else ""
        return f"signal {name}{hint}"
    return f"exit code {code}"


# ----- inside the training process ------------------------------------------------------


class _StopFlag:
    """`is_set()` for `train_model`: the job's stop request, read at most every 0.5 s."""

    def __init__(self, store: JobStore, job_id: str, every: float = 0.5):
        self.store, self.job_id, self.every = store, job_id, every
        self._checked, self._set = 0.0, False

    def is_set(self) -> bool:
        now = time.monotonic()
        if not self._set and now - self._checked >= self.every:
            self._checked = now
            record = self.store.get(self.job_id) or {}
            self._set = record.get("stop_requested") is not None
        return self._set


def train_job(queue: JobQueue, job_id: str) -> None:
    """Train one claimed job and record how it ended: the body of `run-job`.

    Every way a run can end (finished, stopped, failed) becomes a status and a message
    on the record; the model store's atomic saves leave existing models whole.
    """
    from mnist_core.data import load_mnist
    from mnist_core.errors import TrainingStopped
    from mnist_core.train import train_model

    store = queue.store
    record = store.get(job_id)
    if record is None or record["status"] != RUNNING:
        return
    name, owner = record["name"], record["owner"]

    def report(progress) -> None:
        store.update(job_id, {
            "progress": {
                "epoch": progress.epoch, "epochs": progress.epochs, "step": progress.step,
                "steps": progress.steps, "elapsed": progress.elapsed,
                "fraction": progress.fraction, "eta": progress.eta, "written": time.time(),
            },
            "history": progress.history,
        }, if_status=[RUNNING])

    def end(status: str, message: str, card: dict | None = None) -> None:
        store.update(job_id, {"status": status, "ended": time.time(), "message": message,
                              "card": card}, if_status=[RUNNING])

    try:
        config = TrainConfig.from_dict(record["config"])
        result = train_model(
            config, data=load_mnist(), save_as=name, progress=report,
            stop_event=_StopFlag(store, job_id), overwrite=bool(record.get("overwrite")),
            progress_interval=PROGRESS_EVERY, card_extra={"owner": owner, "job": job_id},
        )
    except TrainingStopped:
        end(STOPPED, "Stopped before the first epoch finished; nothing was saved.")
    except (MnistCoreError, ValueError, FileExistsError, OSError) as err:
        log.warning("training job %s (%r) failed: %s", job_id, name, err, exc_info=True)
        end(FAILED, str(err))
    except Exception as err:  # noqa: BLE001 - the record is the only place to report to
        log.exception("training job %s (%r) failed", job_id, name)
        end(FAILED, f"training failed unexpectedly: {type(err).__name__}: {err}")
    else:
        card = result.card.to_json()
        epochs, accuracy = card["epochs_run"], card["test_accuracy"]
        if result.stopped:
            end(STOPPED, (
                f"Stopped after {epochs} epoch{'s' if epochs != 1 else ''}; saved model "
                f"{name!r} (best epoch {card['best_epoch']}, test accuracy {accuracy:.2%})."
            ), card)
        else:
            end(FINISHED, (
                f"Saved model {name!r}: test accuracy {accuracy:.2%} (best epoch "
                f"{card['best_epoch']} of {epochs}, {card['training_seconds']:.0f} s)."
            ), card)


# ----- the worker process ----------------------------------------------------------------


def run_worker(queue: JobQueue, threads: int = 1, exit_with: int | None = None) -> None:
    """Consume the queue until SIGINT/SIGTERM (or until process `exit_with` is gone).

    `threads` jobs train at once, each in its own process. The worker announces itself
    with a heartbeat, so pages count it and estimate queue times.
    """
    consumer = queue.huey.create_consumer(
        workers=threads, worker_type="thread", periodic=False, initial_delay=0.1,
        backoff=1.3, max_delay=1.0,
    )
    done = threading.Event()
    info = {"host": socket.gethostname(), "pid": os.getpid(), "threads": threads,
            "started": time.time()}

    def beat() -> None:
        while not done.wait(3.0):
            try:
                queue.store.beat(queue.worker_id, info)
                queue.view()  # fails jobs whose worker died; drops old records
            except Exception:  # noqa: BLE001 - a store hiccup must not stop the worker
                log.exception("worker heartbeat failed")
            if exit_with is not None and not _alive(exit_with):
                log.info("process %d is gone; the worker stops", exit_with)
                queue.shutdown()
                os.kill(os.getpid(), signal.SIGTERM)
                return

    queue.store.beat(queue.worker_id, info)
    heart = threading.Thread(target=beat, name="worker-heartbeat", daemon=True)
    heart.start()
    try:
        consumer.run()
    finally:
        done.set()
        queue.shutdown()
        queue.store.leave(queue.worker_id)
        for record in queue.store.all():  # what its threads had no time to record
            if record["status"] == RUNNING and record.get("worker") == queue.worker_id:
                queue.store.update(record["id"], {
                    "status": FAILED, "ended": time.time(),
                    "message": "The worker was shut down while this run trained; nothing "
                    "was saved.",
                }, if_status=[RUNNING])
