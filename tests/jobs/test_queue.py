"""`mnist_core.jobs.queue`: the client the pages use, in Huey's immediate mode (each job
trains inside `submit`, in this process) or with no worker at all."""

from __future__ import annotations

import shutil
import time

import pytest

from mnist_core import registry
from mnist_core.config import TrainConfig
from mnist_core.errors import JobError, ModelProtectedError, OwnerError
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import FAILED, FINISHED, QUEUED, RUNNING, STOPPED, Limits

from .conftest import ALICE, BOB, TINY


def test_a_job_trains_records_its_history_and_saves_a_model_its_owner_owns(inline, stores):
    job = inline.submit(TINY, "tiny", ALICE)
    assert job.status == FINISHED, job.message
    assert job.message.startswith("Saved model 'tiny'")
    assert len(job.history["test_accuracy"]) == 2 and job.fraction == 1.0
    assert job.card.owner == ALICE and job.card.epochs_run == 2
    assert (stores / "trained" / "tiny.keras").is_file()
    info = {i.name: i for i in registry.list_models()}["tiny"]
    assert info.owner == ALICE and not info.shipped
    assert inline.view().owned_by(ALICE)[0].id == job.id and inline.view().owned_by(BOB) == []


def test_bad_settings_and_limits_are_refused_with_a_message_and_nothing_queued(stores):
    queue = JobQueue(immediate=True, train_in_subprocess=False,
                     limits=Limits(runs_per_owner=1, image_epochs=20_000, queue_length=50))
    cases = [
        (TrainConfig("mlp-16-16-relu", epochs=0), "a", "epochs must be between"),
        (TrainConfig("no-such-net"), "b", "unknown architecture"),
        (TrainConfig("mlp-16-16-relu", epochs=50), "c", "limited to 20,000"),
        (TINY, "../evil", "invalid model name"),
    ]
    for config, name, message in cases:
        with pytest.raises((JobError, ValueError), match=message):
            queue.submit(config, name, ALICE)
    for owner in ("x", "5f0c8a3e9b1d4c2aa6e7f8091b2c3d4e"):  # hand-made, from an old address
        with pytest.raises(OwnerError, match="invalid owner"):
            queue.submit(TINY, "fine", owner)
    assert queue.view().jobs == []


def test_names_of_shipped_and_other_peoples_models_are_protected(inline, stores):
    inline.submit(TINY, "bobs", BOB)
    shutil.copy(stores / "trained" / "bobs.keras", stores / "shipped" / "cnn.keras")
    with pytest.raises(ModelProtectedError, match="shipped model"):
        inline.submit(TINY, "cnn", ALICE, overwrite=True)
    with pytest.raises(JobError, match="already exists"):
        inline.submit(TINY, "bobs", ALICE)
    with pytest.raises(ModelProtectedError, match="someone else"):
        inline.submit(TINY, "bobs", ALICE, overwrite=True)
    before = registry.read_card("bobs").created
    assert inline.submit(TINY, "bobs", BOB, overwrite=True).status == FINISHED
    assert registry.read_card("bobs").owner == BOB
    assert registry.read_card("bobs").created >= before
    with pytest.raises(ModelProtectedError, match="shipped"):
        registry.delete_model("cnn")
    with pytest.raises(ModelProtectedError, match="someone else"):
        registry.delete_model("bobs", owner=ALICE)
    registry.delete_model("bobs", owner=BOB)
    assert [i.name for i in registry.list_models()] == ["cnn"]


def test_queue_limits_per_owner_and_names_in_use(stores):
    queue = JobQueue(limits=Limits(runs_per_owner=2))  # no worker
    first = queue.submit(TINY, "one", ALICE)
    queue.submit(TINY, "two", ALICE)
    with pytest.raises(JobError, match="already have 2 runs"):
        queue.submit(TINY, "three", ALICE)
    with pytest.raises(JobError, match="already training a model named 'one'"):
        queue.submit(TINY, "one", BOB)
    bobs = queue.submit(TINY, "three", BOB)  # another visitor is not held back
    view = queue.view()
    assert [(j.name, j.status, j.position) for j in view.jobs] == [
        ("one", QUEUED, 1), ("two", QUEUED, 2), ("three", QUEUED, 3)
    ]
    starts = [j.starts_in for j in view.jobs]
    assert starts[0] == 0 and starts[0] < starts[1] < starts[2]
    assert view.waiting == 3 and view.training == 0 and view.workers == []
    # stopping one frees a place; nobody stops someone else's
    with pytest.raises(ModelProtectedError, match="someone else"):
        queue.stop(bobs.id, ALICE)
    assert queue.stop(first.id, ALICE).status == STOPPED
    assert queue.submit(TINY, "four", ALICE).position == 3


def test_a_running_job_whose_worker_went_silent_is_marked_failed(stores):
    queue = JobQueue(stale_after=5)
    job = queue.submit(TINY, "ghost", ALICE)
    queue.store.update(job.id, {"status": RUNNING, "started": time.time() - 60,
                                "heartbeat": time.time() - 6})
    lost = queue.job(job.id)
    assert lost.status == FAILED and "no sign of life for 5 s" in lost.message
    assert not registry.model_exists("ghost")
