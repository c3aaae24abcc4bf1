"""Index jobs: a saved model's neighbour index (`store.neighbours`) built by a job of its own
kind, queued by the worker after each train or teach run it saves, outside the runs'
limits."""

from __future__ import annotations

import shutil

from mnist_core.jobs.queue import JobQueue
from mnist_core.jobs.records import (
    FINISHED,
    INDEX,
    INDEX_SECONDS,
    QUEUED,
    STOPPED,
    TRAIN,
    Limits,
    estimate,
)
from mnist_core.store import registry, saving
from mnist_core.store.neighbours import neighbours_path, open_neighbours
from tests.conftest import ROOT

from .conftest import ALICE, BOB, TINY


def _stored(stores, name: str = "mine") -> str:
    """The shipped `mlp-16-16-relu` copied into the writable store as `name`, ALICE's."""
    trained = stores / "trained"
    trained.mkdir(exist_ok=True)
    for path in (ROOT / "models").glob("mlp-16-16-relu.*"):
        shutil.copy(path, trained / path.name.replace("mlp-16-16-relu", name))
    card = registry.read_card(name)
    saving.write_card(name, card.replace(owner=ALICE), trained)
    return name


def test_an_index_job_runs_through_the_queue_and_writes_the_index(inline, stores):
    name = _stored(stores)
    job = inline.submit_index(name, ALICE)
    assert job.kind == INDEX and job.status == FINISHED, job.message
    assert job.message.startswith(f"Indexed 1,000 training digits of {name!r}")  # the subset
    index, why = open_neighbours(name)
    assert why is None and len(index) == 1000 and index.counts()["pen"] == 0
    assert neighbours_path(name) == stores / "trained" / f"{name}.neighbours.npz"
    assert job.progress.steps == 1000 and job.fraction == 1.0 and job.card is None
    record = inline.store.get(job.id)
    assert "config" not in record and record["owner"] == ALICE


def test_an_index_job_for_a_model_deleted_before_its_turn_needs_nothing(inline, stores):
    name = _stored(stores)
    saving.delete_model(name, owner=ALICE)
    job = inline.submit_index(name, ALICE)
    assert job.status == STOPPED and "deleted before its index" in job.message
    assert not neighbours_path(name).exists()


def test_a_saved_training_run_queues_its_model_s_index_for_its_owner(inline, stores):
    job = inline.submit(TINY, "tiny", ALICE)
    assert job.status == FINISHED, job.message
    mine = inline.view().owned_by(ALICE)
    assert [(j.kind, j.name, j.status) for j in mine] == [(INDEX, "tiny", FINISHED),
                                                          (TRAIN, "tiny", FINISHED)]
    index, why = open_neighbours("tiny")
    assert why is None and index.graph_sha256 == registry.read_card("tiny").onnx_sha256
    fitted = round(TINY.train_size * (1 - TINY.validation_split))
    assert index.counts() == {"MNIST": fitted, "pen": 0}  # its 300 less those it held out


def test_index_jobs_count_against_no_limit_and_hold_no_name(stores):
    name = _stored(stores)
    queue = JobQueue(limits=Limits(runs_per_owner=1, runs_per_address=1, queue_length=1))
    waiting = queue.submit_index(name, ALICE)
    assert waiting.status == QUEUED and queue.submit_index(name, ALICE).id == waiting.id
    other = queue.submit_index(_stored(stores, "other"), ALICE)
    assert other.id != waiting.id
    # the owner's next run is taken, of that very name too, and the queue is not full
    run = queue.submit(TINY, name, ALICE, overwrite=True, address="10.0.0.1")
    assert run.status == QUEUED
    # index jobs go first: they take the turn being served
    order = [job.id for job in sorted(queue.view().jobs, key=lambda job: job.position)]
    assert order == [waiting.id, other.id, run.id]
    assert estimate(queue.store.get(waiting.id), {}) == INDEX_SECONDS
    assert queue.view().owned_by(BOB) == []


def test_a_saved_number_reader_queues_no_index(inline, stores):
    """A whole-number reader has no digits' features to index: its run is followed by
    no index job (one would only fail)."""
    from mnist_core.training.config import TrainConfig

    config = TrainConfig("number-ctc", epochs=1, numbers_per_epoch=128, batch_size=32,
                         train_size=300)
    job = inline.submit(config, "numbers", ALICE)
    assert job.status == FINISHED, job.message
    assert [(j.kind, j.name) for j in inline.view().owned_by(ALICE)] == [(TRAIN, "numbers")]
    assert not neighbours_path("numbers").exists()
