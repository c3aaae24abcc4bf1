"""A teach run: a tiny base from the MNIST subset taught pen-drawn digits, saved as the
visitor's own model; which drawings it holds out; too few drawings refused."""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_core.errors import JobError, MnistCoreError, TrainingStopped
from mnist_core.sources.drawings_file import NOT_A_DIGIT, make_drawings
from mnist_core.sources.pendigits import default_pendigits_path, load_pendigits, render_digit
from mnist_core.store import registry
from mnist_core.training.config import TeachConfig
from mnist_core.training.teach import teach_model
from mnist_core.training.teach_data import (
    held_out_plan,
    mnist_indices,
    pen_replay,
    training_labels,
)

SAMPLE = Path(__file__).parent / "data" / "pendigits-sample.tra"  # 3 of each digit
OWNER = "o_alice-" + "0" * 26
# small enough for the tests' 2 cores: four fits of the seed CNN in a few seconds
QUICK = TeachConfig(base="seed-cnn", epochs=3, replay=300, copies=8, batch_size=32)


def _pen_drawings(seed: int, slant: float = 35.0):
    """The sample's 30 pen-drawn digits as a visitor who leans every digit over by
    `slant` degrees draws them on the pad (which the base mostly misreads), sized and
    placed by `seed`."""
    rng = np.random.default_rng(seed)
    angle = np.deg2rad(slant)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    digits = load_pendigits(SAMPLE)
    canvases = [render_digit([(stroke - 250) @ turn.T + 250 for stroke in digit.strokes],
                             rng=rng) for digit in digits]
    return make_drawings(canvases, [digit.label for digit in digits])


@pytest.fixture(scope="module")
def store(tmp_path_factory, subset_model_store):
    """A store of its own holding the subset's seed CNN, the base."""
    folder = tmp_path_factory.mktemp("teach-store")
    for path in subset_model_store.glob("seed-cnn.*"):
        shutil.copy(path, folder)
    return folder


@pytest.fixture(scope="module")
def taught(store, mnist_subset):
    return teach_model(_pen_drawings(seed=1), "alice-seed-cnn", QUICK, data=mnist_subset,
                       owner=OWNER, owners=1, models_dir=store, job="job123")


def test_a_teach_run_saves_a_model_owned_by_the_visitor_whose_card_counts_the_drawings(
        taught, store):
    card = registry.read_card("alice-seed-cnn", store)
    assert card.owner == OWNER and card.job == "job123" and card.task == "digit"
    assert registry.name_holder("alice-seed-cnn", OWNER, store) is registry.NameHolder.YOU
    report = card.extra["taught"]
    assert report["base"] == "seed-cnn"
    assert report["drawings"] == 30 and report["owners"] == 1
    assert report["per_label"] == [3] * 10 + [0]
    # 30 drawings are few: each held out once, in three runs, then one fits them all
    assert report["held_out"]["digits"] == 30 and report["held_out"]["cross_validated"]
    assert report["held_out"]["runs"] == 3
    assert 0.5 < report["mnist_test"]["base"] <= 1 and 0.5 < report["mnist_test"]["taught"] <= 1
    assert card.test_accuracy == report["mnist_test"]["taught"]
    assert card.reading.fitted_on.endswith("MNIST digits seed-cnn held out of its own training")
    assert card.epochs_run == 3 and len(card.history.loss) == 3
    # counts, never pixels: the whole card is small
    assert len(json.dumps(card.to_json())) < 5000
    # the store serves it like any model, with its test readings
    opened = registry.open_model("alice-seed-cnn", store)
    assert opened.card.owner == OWNER
    scores = registry.read_scores("alice-seed-cnn", store)
    assert float((scores.predictions == scores.labels).mean()) == report["mnist_test"]["taught"]


def test_the_taught_model_reads_other_copies_of_the_taught_drawings_better_than_the_base(
        taught, store):
    from mnist_core.reading.inference import predict_proba

    copies = _pen_drawings(seed=2)  # the same pen digits, drawn at other sizes and places
    images = copies.images28.astype(np.float32) / 255
    base = registry.load_model("seed-cnn", store)
    base_right = int((predict_proba(base, images).argmax(axis=1) == copies.labels).sum())
    taught_right = int((predict_proba(taught.model, images).argmax(axis=1)
                        == copies.labels).sum())
    assert base_right <= 12, base_right  # of 30: the slant is what the base misreads
    assert taught_right >= base_right + 6, (base_right, taught_right)
    # and so did its held-out report: the runs that never fitted a drawing read it better
    held = taught.report["held_out"]
    assert held["taught_right"] > held["base_right"], held


def test_too_few_drawings_are_refused_saying_how_many_of_each_digit_are_needed(store,
                                                                             mnist_subset):
    drawings = _pen_drawings(seed=1)
    keep = [i for i, label in enumerate(drawings.labels) if label not in (3, 7)]
    fewer = make_drawings([drawings.drawings[i] for i in keep], drawings.labels[keep])
    with pytest.raises(JobError) as refused:
        teach_model(fewer, "too-few", QUICK, data=mnist_subset, models_dir=store)
    assert str(refused.value) == (
        "teaching a model needs at least 1 kept drawing of every digit 0-9; there are only "
        "0 of 3, 0 of 7: keep more on the Draw page")
    assert not registry.model_exists("too-few", store)


def test_a_stopped_teach_run_saves_nothing(store, mnist_subset):
    stop = threading.Event()
    stop.set()
    with pytest.raises(TrainingStopped):
        teach_model(_pen_drawings(seed=1), "stopped", QUICK, data=mnist_subset,
                    models_dir=store, stop_event=stop)
    assert not registry.model_exists("stopped", store)


def test_many_drawings_hold_a_tenth_out_once_spread_over_the_labels():
    labels = np.array([0] * 30 + [1] * 25 + [2] * 1 + [3] * 4)
    plan = held_out_plan(labels, seed=3)
    assert not plan.refit and plan.runs == 1
    (fitted, held), = plan.folds
    assert len(held) == 6 and sorted(np.concatenate([fitted, held])) == list(range(60))
    assert sorted(labels[held].tolist()) == [0, 0, 1, 1, 3, 3]  # never the only 2
    assert held_out_plan(labels, seed=3).folds[0][1].tolist() == held.tolist()


def test_few_drawings_are_each_held_out_once_in_three_runs_then_all_fitted():
    labels = np.repeat(np.arange(10), 2)
    plan = held_out_plan(labels, seed=0)
    assert plan.refit and plan.runs == 4
    held = np.concatenate([held for _, held in plan.folds])
    assert sorted(held.tolist()) == list(range(20))
    for fitted, held in plan.folds:
        assert not set(fitted) & set(held) and len(fitted) + len(held) == 20
        assert 6 <= len(held) <= 7


def test_not_a_digit_is_fitted_as_unsure_of_every_digit():
    assert training_labels(np.array([0, 9, NOT_A_DIGIT])).tolist() == [0, 9, -1]


def test_the_replay_is_what_the_base_fitted_and_the_calibration_what_it_held_out(store,
                                                                                 mnist_subset):
    from mnist_core.training.config import TrainConfig
    from mnist_core.training.run_data import split_indices

    card = registry.read_card("seed-cnn", store)
    cfg = TrainConfig.from_card(card.hyperparameters).resolved()
    held, fitted = split_indices(1000, cfg)
    replay, calibration = mnist_indices(card, 1000, TeachConfig(replay=300))
    assert sorted(calibration.tolist()) == sorted(held.tolist())  # all 100 it held out
    assert len(replay) == 300 and set(replay) <= set(fitted.tolist())


def _predicted(lines: list[str]) -> list[str]:
    """The digit each line of `predict FILE.npz` read, in order of index."""
    assert [int(line.split()[0]) for line in lines] == list(range(len(lines)))
    for line in lines:
        digit, probability = line.split()[1:3]
        assert digit == "?" or digit in "0123456789"
        assert 0 <= float(probability) <= 1
    return [line.split()[1] for line in lines]


def test_the_command_line_teaches_from_a_drawings_file_and_reads_one(store, tmp_path,
                                                                     capsys):
    from mnist_core.__main__ import main
    from mnist_core.sources.drawings_file import write_drawings
    from tests.conftest import SUBSET_DIR

    mine = write_drawings(tmp_path / "mine.npz", _pen_drawings(seed=1))
    copies = write_drawings(tmp_path / "copies.npz", _pen_drawings(seed=2))
    common = ["--models-dir", str(store), "--data-dir", str(SUBSET_DIR)]
    assert main([*common, "teach", "--from", "seed-cnn", "--drawings", str(mine),
                 "--name", "cli-taught", "--epochs", "2"]) == 0
    out = capsys.readouterr().out
    assert "epoch 8/8" in out and "saved cli-taught: taught 30 drawings" in out
    card = registry.read_card("cli-taught", store)
    assert card.owner is None and card.extra["taught"]["owners"] is None
    assert card.extra["taught"]["settings"]["epochs"] == 2

    read = {}
    for name in ("seed-cnn", "cli-taught"):
        assert main([*common, "predict", str(copies), "--name", name]) == 0
        read[name] = _predicted(capsys.readouterr().out.strip().splitlines())
    labels = [str(label) for label in _pen_drawings(seed=2).labels]
    assert len(read["cli-taught"]) == 30
    # each calibrated on 100 MNIST digits, both name few of these slanted digits; the
    # taught one names fewer wrongly
    wrong = {name: sum(digit not in ("?", label) for digit, label in zip(digits, labels))
             for name, digits in read.items()}
    assert wrong["cli-taught"] <= wrong["seed-cnn"], wrong

    (tmp_path / "not.npz").write_bytes(b"hello")
    assert main([*common, "teach", "--drawings", str(tmp_path / "not.npz"),
                 "--name", "nothing"]) == 2
    assert "error: the file is not a drawings file" in capsys.readouterr().err
    assert not registry.model_exists("nothing", store)


def test_the_teach_benchmark_plays_unseen_writers_and_runs_one_through_a_queue(
        store, tmp_path, monkeypatch):
    from bench import teach as bench_teach
    from tests.conftest import SUBSET_DIR

    monkeypatch.setenv("MNIST_DATA_DIR", str(SUBSET_DIR))
    out = tmp_path / "results"
    assert bench_teach.main(["--quick", "--models-dir", str(store), "--bases", "seed-cnn",
                             "--pendigits", str(default_pendigits_path()),
                             "--results-dir", str(out)]) == 0
    result = json.loads((out / "teach.json").read_text())
    assert result["writers"] == [1, 2] and result["seen_in_training"] == {"seed-cnn": []}
    (row,) = result["results"]
    assert (row["base"], row["k"], len(row["writers"])) == ("seed-cnn", 1, 2)
    for writer in row["writers"]:
        assert writer["kept"] == 10 and writer["others"] > 200
        assert 0 <= writer["taught_errors"] <= writer["others"]
        assert 0 <= writer["taught_kept_errors"] <= writer["others"]
        assert 0 <= writer["base_kept_errors"] <= writer["others"]
        assert writer["held_out"]["cross_validated"] and writer["seconds"] > 0
    assert row["base_errors"] == sum(w["base_errors"] for w in row["writers"])
    assert row["taught_kept_errors"] == sum(w["taught_kept_errors"] for w in row["writers"])
    queued = result["queued"]
    assert queued["status"] == "finished", queued["message"]
    assert 0 < queued["process_seconds"] <= queued["submit_to_saved_seconds"]


def test_the_teach_benchmark_refuses_writers_a_base_saw(store, tmp_path):
    from bench import teach as bench_teach

    card_file = store / "seed-cnn.json"
    seen = json.loads(card_file.read_text())
    seen["pen_writers"] = list(range(1, 31))
    shutil.copy(store / "seed-cnn.keras", store / "saw-all.keras")
    (store / "saw-all.json").write_text(json.dumps(seen))
    args = bench_teach.parse_args(["--bases", "saw-all", "--models-dir", str(store)])
    cards = {"saw-all": registry.read_card("saw-all", store)}
    with pytest.raises(MnistCoreError, match="every pen writer was seen in training by saw-all"):
        bench_teach.writers_to_play(args, cards, load_pendigits())
    args = bench_teach.parse_args(["--bases", "saw-all", "--writers", "21-22", "--seen"])
    writers, seen_by = bench_teach.writers_to_play(args, cards, load_pendigits())
    assert writers == [21, 22] and seen_by == {"saw-all": [21, 22]}


def test_the_pen_writers_the_base_fitted_are_replayed_drawn_as_the_pad_draws():
    from mnist_core.model.card import ModelCard

    images, labels = pen_replay(ModelCard(pen_writers=[3, 4]), TeachConfig(pen_replay=50))
    assert images.shape == (50, 28, 28) and images.dtype == np.float32
    assert images.max() == pytest.approx(1.0) and set(labels) <= set(range(10))
    images, labels = pen_replay(ModelCard(pen_writers=[]), TeachConfig(pen_replay=50))
    assert images.shape == (0, 28, 28) and labels.shape == (0,)
