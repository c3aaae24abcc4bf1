"""Workers: consume the queue and supervise the processes that train its jobs.

    python -m mnist_core worker [--threads 1]    # runs `run_worker`

A worker only hands jobs on: each job trains in a fresh process of its own
(`python -m mnist_core.jobs.run ID`, under SCHED_IDLE or niced below the web server),
which exits when done and so returns its memory. The worker's thread waits for it,
keeps the record's heartbeat fresh and kills it if it ignores a stop for `stop_grace`
seconds. `ensure_worker` starts a local worker for an app on one machine; the queue's
client never starts one (nor imports this module). Imports neither TensorFlow nor Keras,
so a worker stays light. Each job's process runs it by its kind (`run.run_job`).

The job records are the truth, Huey's messages only wake workers: a worker sends a
message again for each queued run that lost its own (`JobQueue.requeue_lost`) when it
starts and every `REQUEUE_EVERY` seconds. While the queue cannot be reached (Redis
restarting) training goes on and the writes are tried again; a run is given up only
after `LOST_CONTACT_AFTER` seconds without contact, and its record then says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from mnist_core.errors import MnistCoreError, QueueUnavailableError
from mnist_core.jobs.queue import JobQueue, declare_train, make_huey
from mnist_core.jobs.records import FAILED, RUNNING, STOPPED, TEACH, TRAIN, kind_of
from mnist_core.jobs.run import run_job
from mnist_core.jobs.store import patiently
from mnist_core.model.card import DIGIT
from mnist_core.store import registry

log = logging.getLogger(__name__)

AUTOSTART_ENV = "MNIST_AUTOSTART_WORKER"  # "0": the app never starts a worker itself
HEARTBEAT_EVERY = 2.0  # s between heartbeats of a running job
STOP_GRACE = 60.0  # s a running job may take to honour a stop before it is killed
TRAINING_NICENESS = 10  # training processes yield the CPU to the web server
REQUEUE_EVERY = 30.0  # s between checks for queued runs whose message was lost
LOST_CONTACT_AFTER = 120.0  # s without reaching the queue before a run is given up
END_PATIENCE = 600.0  # s to keep trying to record how a run ended
ROOT = Path(__file__).resolve().parents[2]  # where `python -m mnist_core...` imports from

_started_workers: list[subprocess.Popen] = []  # kept so they are reaped, not zombies


def worker_id() -> str:
    """This process's name on job records and in the list of live workers."""
    return f"{socket.gethostname()}-{os.getpid()}"


class Supervisor:
    """A worker's side of a queue: claims each job it is handed and trains it.

    `in_subprocess` False runs each job in this process instead of a fresh one (a queue
    in immediate mode, for tests)."""

    def __init__(self, queue: JobQueue, *, stop_grace: float = STOP_GRACE,
                 in_subprocess: bool = True, lost_contact_after: float = LOST_CONTACT_AFTER):
        self.queue, self.store = queue, queue.store
        self.stop_grace = stop_grace
        self.lost_contact_after = lost_contact_after
        self.in_subprocess = in_subprocess
        self.id = worker_id()
        self._children: dict[str, subprocess.Popen] = {}
        self._shutting_down = threading.Event()

    def run_next(self, sent_for: str | None = None) -> None:
        """Claim the run next in the fair order and train it (none: all were stopped or
        taken). `sent_for`, the run the waking message was sent for, is only logged."""
        job_id = self.queue.claim(self.id)
        if job_id is None:
            return
        if job_id != sent_for:
            log.info("woken for run %s, took run %s (next in the fair order)",
                     sent_for, job_id)
        if self.in_subprocess:
            self._train_in_child(job_id)
        else:
            run_job(self.store, job_id)
        self._index_saved_model(job_id)

    def _index_saved_model(self, job_id: str) -> None:
        """After a train or teach run saved its model, queue the model's index job for
        the run's owner (`JobQueue.submit_index`); a queue that cannot take it is logged."""
        try:
            record = self.store.get(job_id) or {}
            if kind_of(record) not in (TRAIN, TEACH) or not record.get("card") or \
                    record["card"].get("task", DIGIT) != DIGIT or \
                    not registry.holds_run(record["name"], job_id):
                return  # nothing saved, or a number reader: no digits to index
            self.queue.submit_index(record["name"], record["owner"])
        except (*self.store.transient, MnistCoreError) as err:
            log.warning("cannot queue the index of run %s's model (%s); `python -m "
                        "mnist_core index --all` builds it", job_id, err)

    def _train_in_child(self, job_id: str) -> None:
        """Train in a fresh, niced process; keep its heartbeat; enforce stops."""
        process = subprocess.Popen(
            [sys.executable, "-m", "mnist_core.jobs.run", job_id],
            env=self.queue.env(), stdin=subprocess.DEVNULL, preexec_fn=_child_setup,
            cwd=ROOT,
        )
        self._children[job_id] = process
        store = self.store
        killed_for = None
        lost_since = None  # time.monotonic() when the queue stopped answering
        try:
            fields = {"pid": process.pid}
            with contextlib.suppress(*store.transient):  # else with the next heartbeat
                store.update(job_id, fields, if_status=[RUNNING])
                fields = {}
            while True:
                try:
                    process.wait(timeout=HEARTBEAT_EVERY)
                    break
                except subprocess.TimeoutExpired:
                    pass
                try:
                    ours = store.update(job_id, fields | {"heartbeat": time.time()},
                                        if_status=[RUNNING])
                    record = store.get(job_id) or {}
                except store.transient as err:
                    if lost_since is None:
                        lost_since = time.monotonic()
                        log.warning("lost contact with the queue while job %s trains (%s); "
                                    "it trains on", job_id, err)
                    lost_for = time.monotonic() - lost_since
                    if killed_for is None and lost_for > self.lost_contact_after:
                        killed_for = "lost contact"
                        process.kill()
                    continue
                if lost_since is not None:
                    log.info("the queue answers again; job %s trained on", job_id)
                    lost_since = None
                fields = {}
                if killed_for is None:
                    asked = record.get("stop_requested")
                    if self._shutting_down.is_set():
                        killed_for = "shutdown"
                    elif not ours and record.get("status") == FAILED:
                        killed_for = "given up"  # a reader found no heartbeat for too long
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
        elif killed_for == "lost contact":
            status, message = FAILED, (
                f"The worker training it lost contact with the queue for more than "
                f"{self.lost_contact_after:.0f} s, so the run was ended; nothing was saved "
                "and every existing model is unchanged."
            )
        else:
            status, message = FAILED, (
                f"The training process ended unexpectedly ({_describe_exit(code)}); "
                "nothing was saved and every existing model is unchanged."
            )
        # Only if the process did not record its own ending (it normally does).
        ending = {"status": status, "ended": time.time(), "message": message}
        try:
            patiently(store, lambda: store.update(job_id, ending, if_status=[RUNNING]),
                      f"record how job {job_id} ended", END_PATIENCE)
        except store.transient:
            log.error("job %s ended (%s) but the queue could not be told", job_id, status)

    def shutdown(self) -> None:
        """End this worker's training processes; their jobs are marked failed."""
        self._shutting_down.set()
        for process in list(self._children.values()):
            with contextlib.suppress(ProcessLookupError):
                process.kill()


def run_worker(queue: JobQueue, threads: int = 1, exit_with: int | None = None,
               stop_grace: float = STOP_GRACE, requeue_every: float = REQUEUE_EVERY,
               lost_contact_after: float = LOST_CONTACT_AFTER) -> None:
    """Consume the queue until SIGINT/SIGTERM (or until process `exit_with` is gone).

    `threads` jobs train at once, each in its own process. The worker announces itself
    with a heartbeat, so pages count it and estimate queue times, and every
    `requeue_every` seconds sends a message again for queued runs that lost theirs.
    """
    supervisor = Supervisor(queue, stop_grace=stop_grace,
                            lost_contact_after=lost_contact_after)
    huey = make_huey(queue.backend, queue.name)
    declare_train(huey, supervisor)
    consumer = huey.create_consumer(
        workers=threads, worker_type="thread", periodic=False, initial_delay=0.1,
        backoff=1.3, max_delay=1.0,
    )
    quiet = _OneLineOutages(queue.store.transient)
    for handler in logging.getLogger().handlers:  # Huey logs from several loggers
        handler.addFilter(quiet)
    store = queue.store
    done = threading.Event()
    info = {"host": socket.gethostname(), "pid": os.getpid(), "threads": threads,
            "started": time.time()}

    def requeue() -> None:
        if sent := queue.requeue_lost():
            log.info("queued %d waiting run(s) again: their messages were lost", sent)

    def beat() -> None:
        out_of_touch = False
        last_requeue = time.monotonic()
        while not done.wait(3.0):
            try:
                store.beat(supervisor.id, info)
                queue.view()  # fails jobs whose worker died; drops old records
                if time.monotonic() - last_requeue >= requeue_every:
                    last_requeue = time.monotonic()
                    requeue()
                if out_of_touch:
                    log.info("the queue answers again")
                out_of_touch = False
            except (*store.transient, QueueUnavailableError) as err:
                if not out_of_touch:
                    log.warning("cannot reach the queue (%s); trying again", err)
                out_of_touch = True
            except Exception:  # noqa: BLE001 - a store hiccup must not stop the worker
                log.exception("worker heartbeat failed")
            if exit_with is not None and not _alive(exit_with):
                log.info("process %d is gone; the worker stops", exit_with)
                supervisor.shutdown()
                os.kill(os.getpid(), signal.SIGTERM)
                return

    patiently(store, lambda: store.beat(supervisor.id, info), "announce the worker", 60.0)
    queue.backend.durability()  # logs when a crash of the queue's Redis would lose runs
    requeue()
    heart = threading.Thread(target=beat, name="worker-heartbeat", daemon=True)
    heart.start()
    try:
        consumer.run()
    finally:
        done.set()
        supervisor.shutdown()
        with contextlib.suppress(*store.transient):
            store.leave(supervisor.id)
            for record in store.all():  # what its threads had no time to record
                if record["status"] == RUNNING and record.get("worker") == supervisor.id:
                    store.update(record["id"], {
                        "status": FAILED, "ended": time.time(),
                        "message": "The worker was shut down while this run trained; "
                        "nothing was saved.",
                    }, if_status=[RUNNING])


def immediate_queue(*args, in_subprocess: bool = False, **options) -> JobQueue:
    """A queue (`JobQueue(*args, **options)`) whose jobs run inside `submit`, by a
    worker's side in this process (Huey's immediate mode; for tests): each in this very
    process, or with `in_subprocess` in a fresh one as a worker runs them."""
    queue = JobQueue(*args, immediate=True, **options)
    queue.consume_here(Supervisor(queue, in_subprocess=in_subprocess))
    return queue


class _OneLineOutages(logging.Filter):
    """Huey logs a traceback each time it cannot read the queue, about once a second
    while Redis restarts; one line every 30 s says as much."""

    def __init__(self, transient: tuple[type[Exception], ...]):
        super().__init__()
        self.transient = transient
        self.last = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, self.transient):
            return True
        if time.monotonic() - self.last < 30.0:
            return False
        self.last = time.monotonic()
        record.msg, record.args = f"cannot read the queue ({error}); trying again", None
        record.exc_info = record.exc_text = None
        return True


def trains_here() -> bool:
    """Whether this Python has the full install (TensorFlow) a job's process trains with:
    a web replica with only the web set (`requirements-web.txt`) has not."""
    return importlib.util.find_spec("tensorflow") is not None


def wants_local_worker(queue: JobQueue) -> bool:
    """Whether an app on this queue should start its own worker: on a SQLite queue (one
    machine) unless `MNIST_AUTOSTART_WORKER=0`, and only where it could train (a worker
    of the web set's would fail every run); never on Redis, whose workers are started by
    whoever deploys them."""
    return queue.url is None and os.environ.get(AUTOSTART_ENV) != "0" and trains_here()


def ensure_worker(queue: JobQueue) -> bool:
    """Start a local worker process if none is alive; True if one was started.

    Only one starter at a time (a lock file), and a worker still starting up (its
    pid file is fresh) counts as alive. The worker exits when this process does.
    """
    if queue.store.workers():
        return False
    import fcntl

    state = queue.state
    state.mkdir(parents=True, exist_ok=True)
    with open(state / "worker-start.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # another process is starting one right now
        pid_file = state / "worker.pid"
        with contextlib.suppress(OSError, ValueError):
            if time.time() - pid_file.stat().st_mtime < 30 and _alive(
                int(pid_file.read_text())
            ):
                return False
        if queue.store.workers():
            return False
        with open(state / "worker.log", "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "mnist_core", "worker", "--exit-with",
                 str(os.getpid())],
                env=queue.env(), stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, cwd=ROOT,
            )
        _started_workers.append(process)
        pid_file.write_text(str(process.pid))
        log.info("started a local training worker, pid %d", process.pid)
        return True


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
