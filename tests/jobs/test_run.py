"""`mnist_core.jobs.run`: a job's process runs it by the kind its record names; a record
without one trains, and a kind this version does not know fails in words. A training
job may start from a stored model's weights (`TrainConfig.start_from`)."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from mnist_core.errors import JobError
from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import FAILED, FINISHED, INDEX, QUEUED, RUNNING, TEACH, TRAIN
from mnist_core.jobs.run import RUNNERS, run_job
from mnist_core.store import registry

from .conftest import ALICE, BOB, TINY


def running(job_id: str, **fields) -> dict:
    now = time.time()
    return {"id": job_id, "owner": ALICE, "name": job_id, "config": TINY.to_dict(),
            "overwrite": False, "status": RUNNING, "created": now, "started": now,
            "heartbeat": now} | fields


def test_records_name_their_kind_and_one_without_a_kind_is_a_training_run(stores):
    queue = JobQueue()
    job = queue.submit(TINY, "kinded", ALICE)
    assert queue.store.get(job.id)["kind"] == TRAIN and job.kind == TRAIN
    queue.store.create({  # as written before jobs had kinds
        "id": "older", "owner": BOB, "name": "older", "config": TINY.to_dict(),
        "overwrite": False, "status": QUEUED, "created": time.time(), "turn": 1})
    assert "kind" not in queue.store.get("older") and queue.job("older").kind == TRAIN
    assert set(RUNNERS) == {TRAIN, TEACH, INDEX}


def test_a_kind_this_version_does_not_know_fails_saying_so(stores):
    queue = JobQueue()
    queue.store.create(running("sculpt-1", kind="sculpt"))
    run_job(queue.store, "sculpt-1")
    failed = queue.job("sculpt-1")
    assert failed.status == FAILED and failed.kind == "sculpt"
    assert "cannot run jobs of kind 'sculpt' (it runs index, teach, train)" in failed.message


def test_a_training_job_can_start_from_a_stored_model(inline, stores):
    assert inline.submit(TINY, "base", ALICE).status == FINISHED
    more = inline.submit(replace(TINY, epochs=1, start_from="base"), "base-more", ALICE)
    assert more.status == FINISHED, more.message
    assert more.card.hyperparameters["start_from"] == "base"
    assert registry.read_card("base-more").owner == ALICE


def test_a_start_that_cannot_fit_is_refused_before_anything_is_queued(inline, stores):
    inline.submit(TINY, "base", ALICE)
    cases = [
        (replace(TINY, start_from="nowhere"), "there is no model named 'nowhere' to start"),
        (replace(TINY, architecture="mlp-64-64-relu", start_from="base"),
         "model 'base' is a 'mlp-16-16-relu' network, not 'mlp-64-64-relu'"),
        (replace(TINY, start_from="../evil"), "invalid model name"),
    ]
    for config, message in cases:
        with pytest.raises(JobError, match=message):
            inline.submit(config, "refused", BOB)
    # the saved run, and its model's index job after it
    assert [(job.kind, job.name) for job in inline.view().jobs] == [(TRAIN, "base"),
                                                                    (INDEX, "base")]
