"""Shared by the job tests: private stores, an immediate-mode queue, small runs and waits."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import Job
from mnist_core.jobs.worker import immediate_queue
from mnist_core.training.config import TrainConfig

from ..conftest import ROOT, SUBSET_DIR

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
    return immediate_queue()


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


class RedisServer:
    """A real `redis-server` (Debian's) on a free local port, persisting as deployments
    should (append-only file, fsync every second), which a test may restart."""

    def __init__(self, folder: Path):
        self.folder = folder
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            [shutil.which("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
             "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )
        import redis

        client = redis.Redis(port=self.port)
        wait_for(lambda: _pings(client), 20, "redis-server")
        return self

    def stop(self, kill: bool = False) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            self.process.wait(10)


def _pings(client) -> bool:
    import redis

    try:
        return client.ping()
    except (redis.ConnectionError, redis.BusyLoadingError):
        return False


@pytest.fixture
def redis_server(tmp_path):
    """A started `RedisServer`, stopped at the end; skipped (failed in CI) without one."""
    if shutil.which("redis-server") is None:
        message = "redis-server is missing: apt-get install redis-server"
        if os.environ.get("CI") == "true" or os.environ.get("E2E_REQUIRED") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    folder = tmp_path / "redis"
    folder.mkdir()
    server = RedisServer(folder).start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    return redis_server.url


class Workers:
    """Worker processes started with the command line; all killed at the end."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []

    def start(self, env: dict | None = None, *options: str) -> subprocess.Popen:
        log = (self.log_dir / f"worker-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "mnist_core", "worker", *options], cwd=ROOT,
            env=(env or os.environ) | {"TF_CPP_MIN_LOG_LEVEL": "2"},
            stdout=log, stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def workers(tmp_path):
    started = Workers(tmp_path)
    yield started
    started.stop_all()
