"""`mnist_core.jobs.queue`: the client the pages use, in Huey's immediate mode (each job
trains inside `submit`, in this process) or with no worker at all."""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
from dataclasses import replace

import pytest

from mnist_core.errors import JobError, ModelProtectedError, OwnerError
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import (
    FAILED,
    FINISHED,
    INDEX,
    QUEUED,
    RUNNING,
    STOPPED,
    TRAIN,
    Job,
    Limits,
    Progress,
)
from mnist_core.jobs.worker import immediate_queue
from mnist_core.store import registry, saving
from mnist_core.training.config import TrainConfig

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
    # newest first: the index job the saved run queued for its model, then the run
    mine = inline.view().owned_by(ALICE)
    assert [(j.kind, j.name) for j in mine] == [(INDEX, "tiny"), (TRAIN, "tiny")]
    assert mine[1].id == job.id and inline.view().owned_by(BOB) == []


def test_bad_settings_and_limits_are_refused_with_a_message_and_nothing_queued(stores):
    queue = immediate_queue(limits=Limits(runs_per_owner=1, image_epochs=20_000, queue_length=50))
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


def test_the_most_epochs_the_limits_allow_are_what_the_queue_takes(stores):
    # the Train page's Epochs slider ends at `most_epochs`: one more must be refused
    limits = Limits(runs_per_owner=10, image_epochs=20_000)
    queue = JobQueue(limits=limits)
    configs = [TINY, replace(TINY, non_digits=500), replace(TINY, validation_split=0.0),
               replace(TINY, pen_writers=(1, 2), pen_renders=1)]
    for i, config in enumerate(configs):
        most = limits.most_epochs(config)
        assert 1 < most < 500
        assert queue.submit(replace(config, epochs=most), f"most-{i}", ALICE).status == QUEUED
        with pytest.raises(JobError, match="limited to 20,000"):
            queue.submit(replace(config, epochs=most + 1), f"more-{i}", ALICE)
    assert Limits(image_epochs=200).most_epochs(TINY) == 0  # 270 images an epoch
    with pytest.raises(JobError, match="limited to 200"):
        JobQueue(limits=Limits(image_epochs=200)).submit(replace(TINY, epochs=1), "one", BOB)


def test_names_of_shipped_and_other_peoples_models_are_protected(inline, stores):
    inline.submit(TINY, "bobs", BOB)
    shutil.copy(stores / "trained" / "bobs.keras", stores / "shipped" / "cnn.keras")
    with pytest.raises(ModelProtectedError, match="shipped model"):
        inline.submit(TINY, "cnn", ALICE, overwrite=True)
    for overwrite in (False, True):
        with pytest.raises(ModelProtectedError, match="someone else; choose another name"):
            inline.submit(TINY, "bobs", ALICE, overwrite=overwrite)
    with pytest.raises(JobError, match="already exists"):
        inline.submit(TINY, "bobs", BOB)  # Bob's own: he must say he means to replace it
    assert registry.name_holder("bobs", BOB) is registry.NameHolder.YOU
    assert registry.name_holder("bobs", ALICE) is registry.NameHolder.SOMEONE_ELSE
    assert registry.name_holder("bobs", None) is registry.NameHolder.SOMEONE_ELSE
    assert registry.name_holder("cnn", BOB) is registry.NameHolder.SHIPPED
    assert registry.name_holder("new", BOB) is registry.NameHolder.NOBODY
    before = registry.read_card("bobs").created
    assert inline.submit(TINY, "bobs", BOB, overwrite=True).status == FINISHED
    assert registry.read_card("bobs").owner == BOB
    assert registry.read_card("bobs").created >= before
    with pytest.raises(ModelProtectedError, match="shipped"):
        saving.delete_model("cnn")
    with pytest.raises(ModelProtectedError, match="someone else"):
        saving.delete_model("bobs", owner=ALICE)
    saving.delete_model("bobs", owner=BOB)
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
    # oldest first; Bob's first run comes before Alice's second (the fair order)
    assert [(j.name, j.status, j.position) for j in view.jobs] == [
        ("one", QUEUED, 1), ("two", QUEUED, 3), ("three", QUEUED, 2)
    ]
    one, two, three = (j.starts_in for j in view.jobs)
    assert one == 0 and one < three < two
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
    assert lost.status == FAILED
    assert "no sign of life from the worker training it for 5 s" in lost.message
    assert not registry.model_exists("ghost")


def test_a_free_name_counts_past_models_and_active_runs(inline, stores):
    assert inline.free_name("my-net") == "my-net"
    inline.submit(TINY, "my-net", ALICE)
    assert inline.free_name("my-net") == "my-net-2"
    inline.submit(TINY, "my-net-2", ALICE)
    assert inline.free_name("my-net") == "my-net-3"
    assert inline.free_name("my-net-2") == "my-net-3"  # a numbered name counts on


def test_progress_round_trips_and_gives_the_time_left():
    progress = Progress(epoch=2, epochs=4, step=10, steps=20, elapsed=30.0, fraction=0.375,
                        eta=50.0, written=time.time() - 5)
    assert Progress.from_json(progress.to_json()) == progress
    job = Job("j1", ALICE, "net", TINY, RUNNING, created=0.0, started=time.time() - 30,
              progress=progress)
    assert job.fraction == 0.375
    assert job.eta == pytest.approx(45.0, abs=1.0)  # the pace written 5 s ago, less those 5 s


def test_runs_start_round_robin_by_owner_and_positions_follow_that_order(stores):
    queue = JobQueue(limits=Limits(runs_per_owner=3))  # no worker: claims by hand
    carol = "o_carol-" + "3" * 26
    for owner, names in ((ALICE, "a1 a2 a3"), (BOB, "b1 b2"), (carol, "c1 c2 c3")):
        for name in names.split():
            queue.submit(TINY, name, owner)
    fair = ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "c3"]
    view = queue.view()
    assert sorted((j.position, j.name) for j in view.jobs) == list(enumerate(fair, start=1))
    starts = [j.starts_in for j in sorted(view.jobs, key=lambda j: j.position)]
    assert starts == sorted(starts) and starts[0] == 0
    taken = [queue.job(queue.claim("worker-1")).name for _ in range(3)]
    assert taken == ["a1", "b1", "c1"]
    dave = queue.submit(TINY, "d1", "o_dave-" + "4" * 27)  # a newcomer's first run goes next
    assert dave.position == 1
    taken += [queue.job(queue.claim("worker-1")).name for _ in range(6)]
    assert taken == ["a1", "b1", "c1", "d1", "a2", "b2", "c2", "a3", "c3"]
    assert queue.claim("worker-1") is None
    assert {j.status for j in queue.view().jobs} == {RUNNING}


def test_one_run_at_a_time_still_alternates_with_a_deep_queue(stores):
    queue = JobQueue(limits=Limits(runs_per_owner=3))
    for name in ("a1", "a2", "a3"):
        queue.submit(TINY, name, ALICE)
    b1 = queue.submit(TINY, "b1", BOB)
    assert [queue.job(queue.claim("w")).name for _ in range(2)] == ["a1", "b1"]
    queue.store.update(b1.id, {"status": FINISHED, "ended": time.time()})
    queue.submit(TINY, "b2", BOB)  # Bob's next, queued after his last one ended
    order = sorted((j.position, j.name) for j in queue.view().jobs if j.position)
    assert order == [(1, "a2"), (2, "b2"), (3, "a3")]


def test_an_address_may_hold_only_a_few_runs_whatever_owner_ids_it_uses(stores):
    queue = JobQueue(limits=Limits(runs_per_owner=2, runs_per_address=3))
    tabs = [f"o_tab-{i:028d}" for i in range(4)]
    for i, tab in enumerate(tabs[:3]):
        queue.submit(TINY, f"t{i}", tab, address="192.0.2.1")
    with pytest.raises(JobError, match=r"3 runs from your network address .* limit is 3"):
        queue.submit(TINY, "t3", tabs[3], address="192.0.2.1")
    assert queue.submit(TINY, "t3", tabs[3], address="192.0.2.2").status == QUEUED
    first = queue.view().owned_by(tabs[0])[0]
    queue.stop(first.id, tabs[0])  # a place is free again
    assert queue.submit(TINY, "t4", tabs[0], address="192.0.2.1").status == QUEUED
    assert "192.0.2" not in json.dumps(queue.store.all())  # records keep no address


@pytest.mark.parametrize("code, said", [
    (errno.ENOSPC, "the model store is full"),
    (errno.EACCES, "the model store cannot be written"),
])
def test_a_model_store_that_refuses_the_save_fails_the_run_in_plain_words(
    inline, stores, monkeypatch, code, said
):
    assert inline.submit(TINY, "kept", ALICE).status == FINISHED
    kept = (stores / "trained" / "kept.keras").read_bytes()
    temp = stores / "trained" / ".kept.x1y2z3.keras"

    def refuse(*files):
        raise OSError(code, os.strerror(code), str(temp))

    monkeypatch.setattr(saving, "_atomic_write", refuse)
    job = inline.submit(TINY, "kept", ALICE, overwrite=True)
    assert job.status == FAILED
    assert job.message == (f"The model could not be saved: {said}. Every existing model "
                           "is unchanged.")
    assert (stores / "trained" / "kept.keras").read_bytes() == kept
