"""`mnist_core.jobs`: the background training worker, with tiny runs on the subset."""

from __future__ import annotations

import time

import pytest

from mnist_core import jobs
from mnist_core.registry import list_models, model_path, read_card
from mnist_core.train import TrainConfig

TINY = TrainConfig("mlp-16-16-relu", epochs=2, batch_size=64, train_size=300, seed=2)
# Long enough to still be running when a test asks it to stop.
LONG = TrainConfig("mlp-16-16-relu", epochs=200, batch_size=32, seed=2)


@pytest.fixture
def job():
    job = jobs.TrainingJob()
    yield job
    job.stop()
    job.wait(60)


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_run_finishes_saves_the_model_and_reports_its_history(job, mnist_subset, tmp_path):
    assert job.state().status == jobs.IDLE and job.state().history == {}
    started = job.start(TINY, "tiny", data=mnist_subset, models_dir=tmp_path)
    assert started.status == jobs.RUNNING and started.run == 1 and started.name == "tiny"
    state = job.wait(120)
    assert state.status == jobs.FINISHED, state.message
    assert state.message.startswith("Saved model 'tiny'")
    assert state.card["name"] == "tiny" and state.card["epochs_run"] == 2
    assert read_card("tiny", tmp_path)["test_accuracy"] == state.card["test_accuracy"]
    assert len(state.progress.history["test_accuracy"]) == 2
    assert state.progress.fraction == 1.0
    assert len(state.history["loss"]) == 2
    assert state.ended is not None and state.elapsed > 0


def test_only_one_run_at_a_time_and_stop_keeps_the_best_epoch(job, mnist_subset, tmp_path):
    job.start(LONG, "long", data=mnist_subset, models_dir=tmp_path)
    with pytest.raises(jobs.JobRunningError, match="already in progress"):
        job.start(TINY, "other", data=mnist_subset, models_dir=tmp_path)
    wait_for(lambda: len(job.state().history.get("loss", [])) >= 1)
    assert job.state().status == jobs.RUNNING
    assert job.stop() is True
    assert job.state().status in (jobs.STOPPING, jobs.STOPPED)
    state = job.wait(60)
    assert state.status == jobs.STOPPED
    assert state.card is not None and state.card["stopped_early"] is True
    assert "saved model 'long'" in state.message
    assert [info.name for info in list_models(tmp_path)] == ["long"]
    # the slot is free again
    assert job.start(TINY, "next", data=mnist_subset, models_dir=tmp_path).run == 2
    assert job.wait(120).status == jobs.FINISHED


def test_stop_before_the_first_epoch_saves_nothing(job, mnist_subset, tmp_path):
    job.start(LONG, "early", data=mnist_subset, models_dir=tmp_path)
    assert job.stop() is True
    assert job.stop() is False  # already stopping
    state = job.wait(60)
    assert state.status == jobs.STOPPED and state.card is None
    assert "nothing was saved" in state.message
    assert list_models(tmp_path) == []


def test_stop_without_a_run_does_nothing(job):
    assert job.stop() is False
    assert job.state().status == jobs.IDLE


@pytest.mark.parametrize(
    ("config", "name", "message"),
    [
        (TrainConfig("mlp-16-16-relu", epochs=0), "fine", "epochs must be between"),
        (TrainConfig("no-such-net"), "fine", "unknown architecture"),
        (TINY, "../escape", "invalid model name"),
    ],
)
def test_bad_settings_fail_with_a_message(job, mnist_subset, tmp_path, config, name, message):
    job.start(config, name, data=mnist_subset, models_dir=tmp_path)
    state = job.wait(30)
    assert state.status == jobs.FAILED
    assert message in state.message
    assert list_models(tmp_path) == []


def test_missing_data_fails_with_a_message(job, tmp_path):
    job.start(TINY, "nodata", data_dir=tmp_path / "empty", models_dir=tmp_path)
    state = job.wait(30)
    assert state.status == jobs.FAILED and "does not exist" in state.message


def test_an_existing_model_is_left_alone_unless_overwrite(job, mnist_subset, tmp_path):
    job.start(TINY, "keep", data=mnist_subset, models_dir=tmp_path)
    assert job.wait(120).status == jobs.FINISHED
    before = model_path("keep", tmp_path).stat().st_mtime_ns
    job.start(TINY, "keep", data=mnist_subset, models_dir=tmp_path)
    state = job.wait(30)
    assert state.status == jobs.FAILED and "already exists" in state.message
    assert model_path("keep", tmp_path).stat().st_mtime_ns == before
    job.start(TINY, "keep", data=mnist_subset, models_dir=tmp_path, overwrite=True)
    assert job.wait(120).status == jobs.FINISHED
    assert model_path("keep", tmp_path).stat().st_mtime_ns != before


def test_the_store_folder_is_fixed_when_the_run_starts(job, mnist_subset, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path / "first"))
    job.start(TINY, "pinned", data=mnist_subset)
    monkeypatch.setenv("MNIST_MODELS_DIR", str(tmp_path / "second"))
    assert job.wait(120).status == jobs.FINISHED
    assert [info.name for info in list_models(tmp_path / "first")] == ["pinned"]
    assert list_models(tmp_path / "second") == []


def test_the_process_has_one_shared_job():
    assert isinstance(jobs.training_job, jobs.TrainingJob)
    from mnist_core.jobs import training_job

    assert training_job is jobs.training_job


def test_clear_session_from_another_thread_does_not_break_a_run(job, mnist_subset, tmp_path):
    # Streamlit calls keras.backend.clear_session() after every script run; a page that
    # polls the job does so every second while the worker builds and trains its model.
    import keras

    config = TrainConfig("cnn", epochs=1, batch_size=64, train_size=100, test_size=50,
                         augment=False)
    job.start(config, "cleared", data=mnist_subset, models_dir=tmp_path)
    while job.state().active:
        keras.backend.clear_session(free_memory=False)
        time.sleep(0.002)
    state = job.wait(10)
    assert state.status == jobs.FINISHED, state.message
    keras.backend.clear_session(free_memory=False)  # works again once the run is over
