"""Teach jobs: queued with a base, a name and whether to take the class's shared
drawings; their process takes the owner's drawings from the drawings store (never from
the record), sees nobody else's unless shared, and refuses too few."""

from __future__ import annotations

import json
import shutil

import pytest

from mnist_core.errors import JobError
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import FINISHED, TEACH
from mnist_core.jobs.run import RUNNERS
from mnist_core.shared.drawings import open_drawings_store
from mnist_core.store import registry
from mnist_core.training.config import TeachConfig

from ..test_teach import _pen_drawings
from .conftest import ALICE, BOB

QUICK = TeachConfig(base="seed-cnn", epochs=2, replay=200, copies=4, batch_size=32)


@pytest.fixture
def base(stores, subset_model_store):
    """The subset's seed CNN among the shipped models."""
    for path in subset_model_store.glob("seed-cnn.*"):
        shutil.copy(path, stores / "shipped")
    return "seed-cnn"


def keep(owner: str, seed: int, labels=None) -> int:
    """Keep the slanted pen sample, drawn with `seed`, as `owner`'s (only `labels`)."""
    drawings = open_drawings_store()
    made = _pen_drawings(seed)
    kept = 0
    for drawing, image28, label in zip(made.drawings, made.images28, made.labels):
        if labels is None or label in labels:
            drawings.keep(owner, drawing, image28, int(label), "seed-cnn", [0.1] * 10)
            kept += 1
    return kept


def test_a_teach_job_fits_the_owner_s_drawings_and_never_another_s_unshared(inline, base):
    assert keep(ALICE, seed=1) == 30
    keep(BOB, seed=3)  # not shared: alice's run must not see them
    job = inline.submit_teach(TeachConfig(**QUICK.to_dict() | {"include_shared": True}),
                              "alice-taught", ALICE)
    assert job.kind == TEACH and job.status == FINISHED, job.message
    assert job.drawings == 30 and job.teach.base == "seed-cnn"
    taught = job.card.extra["taught"]
    assert taught["drawings"] == 30 and taught["owners"] == 1
    assert taught["per_label"] == [3] * 10 + [0]
    assert job.card.owner == ALICE and registry.read_card("alice-taught").owner == ALICE
    # the result, old beside new, is on the record for the Train page
    assert f"it read {taught['held_out']['taught_right']} right" in job.message
    assert taught["held_out"]["digits"] == 30
    assert set(taught["mnist_test"]) == {"base", "taught"}
    # progress was written epoch by epoch: 4 fits (3 cross-validating) of 2 epochs
    assert len(job.history["loss"]) == 8 and job.progress.epochs == 8
    # the record holds counts and settings, never the drawings
    record = inline.store.get(job.id)
    assert record["drawings"] == 30 and record["teach"]["include_shared"] is True
    assert len(json.dumps({k: v for k, v in record.items() if k != "card"})) < 3000


def test_a_teach_job_takes_the_drawings_others_share_only_when_asked(inline, base):
    keep(ALICE, seed=1)
    keep(BOB, seed=3)
    open_drawings_store().set_shared(BOB, True)
    job = inline.submit_teach(TeachConfig(**QUICK.to_dict() | {"include_shared": True}),
                              "class-taught", ALICE)
    assert job.status == FINISHED, job.message
    assert job.drawings == 60
    taught = job.card.extra["taught"]
    assert (taught["drawings"], taught["owners"]) == (60, 2)
    assert taught["held_out"]["digits"] == 6 and not taught["held_out"]["cross_validated"]


def test_too_few_drawings_are_refused_before_anything_is_queued(stores, base):
    queue = JobQueue()
    keep(ALICE, seed=1, labels=set(range(10)) - {4})
    with pytest.raises(JobError) as refused:
        queue.submit_teach(QUICK, "too-few", ALICE)
    assert "needs at least 1 kept drawing of every digit 0-9; there is only 0 of 4" in str(
        refused.value)
    # another owner's drawings of 4 do not count, shared or not, unless asked for
    keep(BOB, seed=3)
    open_drawings_store().set_shared(BOB, True)
    with pytest.raises(JobError, match="only 0 of 4"):
        queue.submit_teach(QUICK, "too-few", ALICE)
    assert queue.view().jobs == []
    queued = queue.submit_teach(TeachConfig(**QUICK.to_dict() | {"include_shared": True}),
                                "with-the-class", ALICE)
    assert queued.drawings == 57 and queued.estimate > 0


def test_a_base_that_is_not_there_is_refused(stores, base):
    keep(ALICE, seed=1)
    with pytest.raises(JobError, match="there is no model named 'nowhere' to teach"):
        JobQueue().submit_teach(TeachConfig(base="nowhere"), "x", ALICE)


def test_teach_is_a_kind_the_job_process_runs():
    assert RUNNERS[TEACH].__name__ == "teach_job"


def test_drawings_deleted_after_the_submit_are_not_taught_nor_logged(stores, base, caplog):
    from mnist_core.jobs.run import run_job

    keep(ALICE, seed=1)
    queue = JobQueue()
    job = queue.submit_teach(QUICK, "late", ALICE)
    drawings = open_drawings_store()
    for kept in drawings.drawings(ALICE):
        if kept.label == 4:
            drawings.delete(ALICE, kept.id)
    assert queue.claim("test-worker") == job.id
    with caplog.at_level("DEBUG"):
        run_job(queue.store, job.id)
    ended = queue.job(job.id)
    assert ended.status == "failed" and "there is only 0 of 4" in ended.message
    assert not registry.model_exists("late")
    assert "0 of 4" not in caplog.text and ALICE not in caplog.text
    assert not any(record.exc_info for record in caplog.records)


def test_a_teach_run_s_pace_never_estimates_a_training_run_s():
    from mnist_core.jobs.records import TRAIN, estimate, measured_rates
    from mnist_core.training.config import TrainConfig

    card = {"architecture": "cnn", "training_seconds": 10.0, "train_images": 4000,
            "epochs_run": 4}
    records = [{"kind": TEACH, "status": FINISHED, "card": card},
               {"kind": TRAIN, "status": FINISHED, "card": card | {"training_seconds": 40.0}}]
    assert measured_rates(records) == {(TEACH, "cnn"): 1600.0, (TRAIN, "cnn"): 400.0}
    train = {"config": TrainConfig("cnn", epochs=1, train_size=4000,
                                   validation_split=0.0).to_dict()}
    teach = {"kind": TEACH, "config": QUICK.run_config("cnn").to_dict(),
             "teach": QUICK.to_dict(), "drawings": 100}
    rates = measured_rates(records)
    assert estimate(train, rates) == pytest.approx(15 + 4000 / 400)
    # one fit of 2 epochs of 200 MNIST and 1,000 pen-drawn digits replayed and 100
    # drawings shown 4 times each
    assert QUICK.pen_replay == 1000
    assert estimate(teach, rates) == pytest.approx(15 + 2 * (200 + 1000 + 400) / 1600)
