"""`mnist_core.jobs.worker`: real workers, started as a user would.

Worker tests start `python -m mnist_core worker`, on the SQLite queue in a temporary
state folder or on a real `redis-server` on a free local port; each job trains in its
own process (`python -m mnist_core.jobs.run`) on the committed MNIST subset.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mnist_core.jobs import worker as worker_module
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import FAILED, FINISHED, QUEUED, RUNNING, STOPPED
from mnist_core.jobs.worker import ensure_worker, wants_local_worker
from mnist_core.store import registry
from mnist_core.training.config import TrainConfig

from ..conftest import ROOT
from .conftest import ALICE, BOB, LONG, TINY, alive, ended, wait_for

# Real workers on SQLite ------------------------------------------------------------------


def test_worker_process_trains_a_job_in_its_own_process(stores, workers):
    queue = JobQueue()
    job = queue.submit(TINY, "queued-tiny", ALICE)
    assert job.status == QUEUED
    worker = workers.start()
    wait_for(lambda: queue.view().workers, 30, "the worker's heartbeat")
    done = ended(queue, job.id)
    assert done.status == FINISHED, done.message
    record = queue.store.get(job.id)
    assert record["worker"].endswith(f"-{worker.pid}")
    assert record["pid"] != worker.pid  # trained in a process of its own, which has exited
    wait_for(lambda: not alive(record["pid"]), 30, "the training process to exit")
    assert registry.read_card("queued-tiny").owner == ALICE


def test_a_worker_takes_runs_round_robin_by_owner_not_first_come(stores, workers):
    queue = JobQueue()
    a1, a2 = (queue.submit(TINY, name, ALICE) for name in ("a1", "a2"))
    b1 = queue.submit(TINY, "b1", BOB)  # last in, but Bob's first
    workers.start()
    done = [ended(queue, job.id) for job in (a1, a2, b1)]
    assert [job.status for job in done] == [FINISHED] * 3, [j.message for j in done]
    order = [job.name for job in sorted(done, key=lambda job: job.started)]
    assert order == ["a1", "b1", "a2"]


def test_stop_while_queued_never_starts_and_stop_while_running_keeps_the_best_epoch(
    stores, workers
):
    queue = JobQueue()
    long = queue.submit(LONG, "long", ALICE)
    never = queue.submit(TINY, "never", ALICE)
    assert queue.stop(never.id, ALICE).status == STOPPED
    workers.start()
    wait_for(lambda: len(queue.job(long.id).history.get("loss", [])) >= 1, what="an epoch")
    stopping = queue.stop(long.id, ALICE)
    assert stopping.status == RUNNING and stopping.stopping
    done = ended(queue, long.id, 60)
    assert done.status == STOPPED and done.card.stopped_early
    assert "saved model 'long'" in done.message
    time.sleep(3)  # the worker has taken the next message off the queue by now
    skipped = queue.job(never.id)
    assert skipped.status == STOPPED and skipped.started is None
    assert "before it started" in skipped.message
    assert [i.name for i in registry.list_models()] == ["long"]


def test_killing_the_worker_fails_its_job_keeps_models_and_the_next_job_runs(
    stores, workers
):
    queue = JobQueue(stale_after=6)
    inline = worker_module.immediate_queue()
    inline.submit(TINY, "kept", ALICE)  # the model the killed run would have replaced
    kept = (stores / "trained" / "kept.keras").read_bytes()

    worker = workers.start()
    job = queue.submit(LONG, "kept", ALICE, overwrite=True)
    wait_for(lambda: len(queue.job(job.id).history.get("loss", [])) >= 1, what="an epoch")
    child = queue.store.get(job.id)["pid"]
    worker.send_signal(signal.SIGKILL)
    worker.wait(10)
    wait_for(lambda: not alive(child), 30, "the orphaned training process to die")

    failed = wait_for(lambda: (j := queue.job(job.id)).status == FAILED and j, 30,
                      "the job to be marked failed")
    assert "no sign of life" in failed.message and "unchanged" in failed.message
    assert (stores / "trained" / "kept.keras").read_bytes() == kept
    assert registry.load_model("kept").network.count_params() == 13_002
    assert not list((stores / "trained").glob(".*"))  # no half-written temp files

    workers.start()
    after = queue.submit(TINY, "after", ALICE)
    assert ended(queue, after.id).status == FINISHED


def test_a_training_process_killed_by_the_system_fails_the_job_not_the_worker(
    stores, workers
):
    queue = JobQueue()
    worker = workers.start()
    job = queue.submit(LONG, "oom", ALICE)
    pid = wait_for(lambda: queue.store.get(job.id).get("pid"), what="the training process")
    wait_for(lambda: queue.job(job.id).progress, what="progress")
    os.kill(pid, signal.SIGKILL)  # what the kernel's out-of-memory killer does
    failed = ended(queue, job.id, 30)
    assert failed.status == FAILED and "signal SIGKILL" in failed.message
    assert worker.poll() is None
    assert ended(queue, queue.submit(TINY, "next", ALICE).id).status == FINISHED


def test_a_run_that_ignores_a_stop_is_killed_after_the_grace_period(stores, workers):
    queue = JobQueue()
    workers.start(None, "--stop-grace", "3")
    job = queue.submit(LONG, "frozen", ALICE)
    pid = wait_for(lambda: queue.store.get(job.id).get("pid"), what="the training process")
    wait_for(lambda: queue.job(job.id).progress, what="progress")
    os.kill(pid, signal.SIGSTOP)  # frozen: it cannot see the stop request
    asked = time.monotonic()
    queue.stop(job.id, ALICE)
    done = ended(queue, job.id, 60)
    assert time.monotonic() - asked >= 3
    assert done.status == STOPPED and "did not stop within 3 s" in done.message
    wait_for(lambda: not alive(pid) or _zombie(pid), 30, "the frozen process to be killed")
    assert not registry.model_exists("frozen")


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


def test_submit_starts_no_worker_and_ensure_worker_starts_one_if_none_is_alive(
    stores, monkeypatch
):
    queue = JobQueue()
    assert wants_local_worker(queue)
    before = len(worker_module._started_workers)
    job = queue.submit(TINY, "auto", ALICE)
    assert len(worker_module._started_workers) == before and queue.view().workers == []
    assert queue.job(job.id).status == QUEUED
    assert ensure_worker(queue)
    started = worker_module._started_workers[-1]
    try:
        assert not ensure_worker(queue)  # one is starting already: no second one
        assert ended(queue, job.id).status == FINISHED
        assert started.poll() is None and len(queue.view().workers) == 1
        assert not ensure_worker(queue)
    finally:
        started.terminate()
        started.wait(30)
    monkeypatch.setenv("MNIST_AUTOSTART_WORKER", "0")
    assert not wants_local_worker(queue)


def test_a_worker_started_for_a_process_exits_when_that_process_does(stores):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    worker = subprocess.Popen(
        [sys.executable, "-m", "mnist_core", "worker", "--exit-with", str(parent.pid)],
        cwd=ROOT, env=os.environ.copy(),
    )
    queue = JobQueue()
    wait_for(lambda: queue.view().workers, 30, "the worker's heartbeat")
    parent.kill()
    parent.wait()
    assert worker.wait(30) == 0
    assert queue.view().workers == []


# Real workers on Redis ------------------------------------------------------------------


def test_two_workers_on_redis_drain_four_jobs_concurrently(stores, workers, redis_url):
    queue = JobQueue(redis_url)
    assert queue.backend.kind == "Redis" and not wants_local_worker(queue)
    config = TrainConfig("mlp-16-16-relu", epochs=6, batch_size=32, train_size=600, seed=3)
    submitted = [queue.submit(config, f"r{i}", owner)
                 for i, owner in enumerate((ALICE, ALICE, BOB, BOB))]
    env = os.environ | {"MNIST_QUEUE_URL": redis_url}
    pids = {workers.start(env).pid, workers.start(env).pid}
    wait_for(lambda: len(queue.view().workers) == 2, 30, "two workers")
    done = [ended(queue, job.id, 300) for job in submitted]
    assert [job.status for job in done] == [FINISHED] * 4, [j.message for j in done]
    by_worker = {queue.store.get(job.id)["worker"].rsplit("-", 1)[1] for job in done}
    assert by_worker == {str(pid) for pid in pids}  # both workers took jobs
    spans = sorted((job.started, job.ended) for job in done)
    assert any(a_end > b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:])), (
        "no two jobs ran at the same time"
    )
    assert sorted(i.name for i in registry.list_models()) == ["r0", "r1", "r2", "r3"]


def _redis_env(url: str) -> dict:
    return os.environ | {"MNIST_QUEUE_URL": url}


def test_a_worker_on_a_redis_that_is_not_append_only_says_so_in_its_log(
    stores, workers, redis_server, tmp_path
):
    import redis

    redis.Redis.from_url(redis_server.url).config_set("appendonly", "no")
    queue = JobQueue(redis_server.url)
    workers.start(_redis_env(redis_server.url))
    wait_for(lambda: queue.view().workers, 30, "the worker's heartbeat")
    log = (tmp_path / "worker-0.log").read_text()
    assert f"the Redis at {redis_server.url} does not run append-only" in log
    assert "runs queued" in log and "--appendonly yes" in log


def test_a_queued_run_whose_message_vanished_still_runs(stores, workers, redis_server):
    import redis

    queue = JobQueue(redis_server.url)
    first = queue.submit(TINY, "lost-at-start", ALICE)
    client = redis.Redis.from_url(redis_server.url)
    client.delete(*client.keys("huey.redis.*"))  # the queue's messages; the records stay
    assert queue.huey.pending_count() == 0 and queue.job(first.id).status == QUEUED
    workers.start(_redis_env(redis_server.url), "--requeue-every", "2")
    assert ended(queue, first.id).status == FINISHED  # sent again as the worker started
    # a run whose message vanishes while the worker waits: the regular check sends it
    queue.store.create({
        "id": "orphan00001", "owner": BOB, "name": "lost-later", "config": TINY.to_dict(),
        "overwrite": False, "status": QUEUED, "created": time.time(), "turn": 1,
    })
    assert ended(queue, "orphan00001").status == FINISHED


def test_redis_restarted_while_a_worker_waits_and_while_a_run_trains(
    stores, workers, redis_server, tmp_path
):
    queue = JobQueue(redis_server.url)
    worker = workers.start(_redis_env(redis_server.url), "--requeue-every", "2")
    wait_for(lambda: queue.view().workers, 30, "the worker's heartbeat")
    redis_server.stop()  # while the worker waits
    time.sleep(2)
    redis_server.start()
    long = queue.submit(LONG, "through", ALICE)
    behind = queue.submit(TINY, "behind", BOB)  # waits through the next restart
    epochs = lambda: len(queue.job(long.id).history.get("loss", []))  # noqa: E731
    wait_for(lambda: epochs() >= 1, what="an epoch")
    redis_server.stop(kill=True)  # a crash while it trains: 3 s without Redis
    time.sleep(3)
    redis_server.start()
    before = epochs()
    wait_for(lambda: epochs() >= before + 2, 120, "two more epochs after the restart")
    assert queue.job(long.id).status == RUNNING
    queue.stop(long.id, ALICE)
    done = ended(queue, long.id, 60)
    assert done.status == STOPPED and "saved model 'through'" in done.message, done.message
    assert ended(queue, behind.id).status == FINISHED
    assert worker.poll() is None
    log = (tmp_path / "worker-0.log").read_text()
    assert "lost contact with the queue" in log and "Traceback" not in log


def test_a_run_that_loses_the_queue_too_long_fails_saying_so(stores, workers, redis_server):
    queue = JobQueue(redis_server.url)
    workers.start(_redis_env(redis_server.url), "--lost-contact-after", "4")
    job = queue.submit(LONG, "cut-off", ALICE)
    wait_for(lambda: queue.job(job.id).progress, what="progress")
    redis_server.stop()
    time.sleep(10)
    redis_server.start()
    failed = ended(queue, job.id, 60)
    assert failed.status == FAILED
    assert "lost contact with the queue for more than 4 s" in failed.message
    assert not registry.model_exists("cut-off")
    assert ended(queue, queue.submit(TINY, "after", ALICE).id).status == FINISHED
