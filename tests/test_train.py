"""`mnist_core.training.train` and `mnist_core.training.augment` on the committed subset."""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_core.errors import ModelNotFoundError, TrainingStopped
from mnist_core.reading.inference import predict_proba
from mnist_core.reading.preprocess import canvas_to_mnist, prepare_mnist
from mnist_core.store.registry import list_models, load_model, read_card
from mnist_core.training.augment import augment_batch
from mnist_core.training.calibration import TARGET_SURE_ACCURACY
from mnist_core.training.negatives import ALL_KINDS, non_digits
from mnist_core.training.run_data import split_indices, validation_digits
from mnist_core.training.train import HISTORY_KEYS, TrainConfig, train_model


def test_run_records_every_epoch_and_saves(mnist_subset, tmp_path):
    updates = []
    result = train_model(
        TrainConfig("mlp-64-64-relu", epochs=3, batch_size=32, seed=3),
        data=mnist_subset, save_as="tiny", models_dir=tmp_path, progress=updates.append,
    )
    history = result.card.history.to_json()
    for key in HISTORY_KEYS:
        assert len(history[key]) == 3, key
    assert result.card.history.epochs == 3
    assert history["loss"][2] < history["loss"][0]
    assert result.card.test_accuracy > 0.7  # 1,000 real digits are enough for that
    assert result.card.test_images == 500 and result.card.val_images == 100
    assert [u.epoch for u in updates if u.epoch_finished] == [1, 2, 3]
    assert updates[-1].fraction == 1.0
    last = [u for u in updates if u.epoch_finished][-1]
    assert last.epoch_line().startswith(
        f"epoch 3/3  loss {history['loss'][2]:.4f}  acc {history['accuracy'][2]:.4f}  "
        f"val {history['val_accuracy'][2]:.4f}  test {history['test_accuracy'][2]:.4f}  (")
    assert [info.name for info in list_models(tmp_path)] == ["tiny"]
    assert read_card("tiny", tmp_path).hyperparameters["batch_size"] == 32
    assert load_model("tiny", tmp_path).network.count_params() == result.model.count_params()
    # calibrated on its own 100 validation images, and read with that calibration
    reading = read_card("tiny", tmp_path).reading
    assert reading.fitted_on == "100 validation images of this training run"
    assert 0.25 <= reading.temperature <= 10 and 0 < reading.min_probability <= 1
    assert load_model("tiny", tmp_path).policy.temperature == reading.temperature


def test_same_seed_same_result(mnist_subset):
    config = TrainConfig("mlp-16-16-relu", epochs=1, batch_size=64, seed=7, train_size=300)
    first = train_model(config, data=mnist_subset).card.history.loss
    second = train_model(config, data=mnist_subset).card.history.loss
    assert first == pytest.approx(second, rel=1e-5)


def test_stop_before_first_epoch_raises_and_saves_nothing(mnist_subset, tmp_path):
    stop = threading.Event()
    stop.set()
    with pytest.raises(TrainingStopped):
        train_model(TrainConfig("mlp-16-16-relu", epochs=2), data=mnist_subset,
                    save_as="never", models_dir=tmp_path, stop_event=stop)
    assert list_models(tmp_path) == []


def test_stop_mid_run_keeps_best_whole_epoch(mnist_subset, tmp_path):
    stop = threading.Event()

    class StopInSecondEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.model.optimizer.iterations.numpy() > 30:  # 29 steps an epoch
                stop.set()

    result = train_model(
        TrainConfig("mlp-64-64-relu", epochs=5, batch_size=32), data=mnist_subset,
        save_as="stopped", models_dir=tmp_path, stop_event=stop,
        callbacks=[StopInSecondEpoch()],
    )
    assert result.stopped and result.card.stopped_early
    assert result.card.epochs_run == 1
    assert read_card("stopped", tmp_path).best_epoch == 1


@pytest.mark.parametrize("field, value", [
    ("epochs", 0), ("batch_size", 0), ("validation_split", 0.95), ("learning_rate", -1.0),
    ("architecture", "nope"), ("ema_momentum", 1.0), ("ema_momentum", -0.1),
])
def test_bad_settings_raise_before_training(field, value):
    with pytest.raises(ValueError):
        TrainConfig(**{field: value}).resolved()


def test_averaged_weights_are_the_ones_scored_and_kept(mnist_subset, tmp_path):
    momentum, steps = 0.6, 5  # 300 images, 30 for validation, 64 a batch

    class RecordStepWeights(keras.callbacks.Callback):
        """The weights the optimiser stepped to, after every batch."""

        def __init__(self):
            super().__init__()
            self.steps = []

        def on_train_batch_end(self, batch, logs=None):
            self.steps.append([w.numpy().copy() for w in self.model.trainable_weights])

    recorder = RecordStepWeights()
    result = train_model(
        TrainConfig("mlp-16-16-relu", epochs=2, batch_size=64, train_size=300,
                    ema_momentum=momentum),
        data=mnist_subset, save_as="averaged", models_dir=tmp_path, callbacks=[recorder],
    )
    assert len(recorder.steps) == 2 * steps
    average = recorder.steps[0]  # the average starts at the first step's weights
    averages = [average]
    for weights in recorder.steps[1:]:
        average = [momentum * a + (1 - momentum) * w for a, w in zip(average, weights)]
        averages.append(average)
    kept_epoch = result.card.best_epoch
    expected = averages[kept_epoch * steps - 1]
    stepped = recorder.steps[kept_epoch * steps - 1]
    saved = load_model("averaged", tmp_path)
    for kept, want, raw in zip(saved.network.trainable_weights, expected, stepped):
        np.testing.assert_allclose(kept.numpy(), want, rtol=1e-4, atol=1e-6)
        assert not np.allclose(kept.numpy(), raw)
    # the epoch's test score is the averaged weights' score
    (_, _), (x_test, y_test) = mnist_subset
    accuracy = (predict_proba(saved, prepare_mnist(x_test)).argmax(axis=1) == y_test).mean()
    assert result.card.test_accuracy == pytest.approx(accuracy, abs=1e-6)
    assert result.card.hyperparameters["ema_momentum"] == momentum


def test_a_runs_validation_digits_can_be_found_again(mnist_subset):
    """What a stored run's reading policy may be fitted on again: exactly its held-out
    digits, so its validation accuracy comes out as its card says."""
    config = TrainConfig("mlp-16-16-relu", epochs=2, batch_size=64, train_size=600, seed=5)
    result = train_model(config, data=mnist_subset)
    x_val, y_val = validation_digits(config.resolved(), mnist_subset[0])
    assert len(x_val) == result.card.val_images == 60
    accuracy = (predict_proba(result.model, x_val).argmax(axis=1) == y_val).mean()
    assert accuracy == pytest.approx(result.card.val_accuracy, abs=1e-6)
    assert result.card.reading.target == TARGET_SURE_ACCURACY


def test_validation_can_hold_out_whole_drawings_not_single_renders():
    """With `split_drawings`, every render of a pen-drawn digit lands on one side of the
    split, so validation never scores a digit the run fitted in another render; by
    default, and for runs stored before the setting, the split goes image by image, and
    MNIST-only runs split as they always did."""
    config = TrainConfig("mlp-16-16-relu", pen_writers=(1,), pen_renders=4, seed=2,
                         split_drawings=True)
    n_single, n_drawn = 500, 400  # 100 drawn digits, 4 renders each
    val, fit = split_indices(n_single + n_drawn, config, n_drawn)
    assert sorted(np.concatenate([val, fit]).tolist()) == list(range(900))
    assert 90 <= len(val) < 94  # 10%, give or take the last whole digit

    def digit_of(indices):
        return {(i - n_single) // 4 for i in indices if i >= n_single}

    assert digit_of(val) and not digit_of(val) & digit_of(fit)
    assert 5 < sum(i < n_single for i in val) < 85  # MNIST images too, one by one

    stored = TrainConfig.from_dict({k: v for k, v in config.to_dict().items()
                                    if k != "split_drawings"})
    assert not stored.split_drawings
    old_val, old_fit = split_indices(900, stored, n_drawn)
    assert old_val.tolist() == np.random.default_rng(2).permutation(900)[:90].tolist()
    assert digit_of(old_val) & digit_of(old_fit)  # renders straddled the split
    assert TrainConfig.from_dict(config.to_dict()).split_drawings
    default = TrainConfig("mlp-16-16-relu", pen_writers=(1,), pen_renders=4, seed=2)
    assert split_indices(900, default, n_drawn)[0].tolist() == old_val.tolist()
    mnist_only, _ = split_indices(900, config)
    assert mnist_only.tolist() == old_val.tolist()


def test_the_command_line_chooses_how_drawn_digits_are_split(tmp_path, monkeypatch, capsys):
    """By default, and with `--split-renders`, a run holds out drawn renders image by
    image, as the shipped drawn models were trained; `--split-drawings` holds out whole
    drawn digits."""
    from mnist_core.__main__ import main
    from tests.conftest import SUBSET_DIR

    monkeypatch.setenv("PENDIGITS_PATH", str(Path(__file__).parent / "data" /
                                             "pendigits-sample.tra"))
    common = ["--models-dir", str(tmp_path), "--data-dir", str(SUBSET_DIR), "train",
              "--arch", "mlp-16-16-relu", "--epochs", "1", "--train-size", "200",
              "--pen-writers", "1-30", "--pen-renders", "2"]
    assert main(common + ["--name", "renders", "--split-renders"]) == 0, capsys.readouterr()
    assert main(common + ["--name", "whole", "--split-drawings"]) == 0, capsys.readouterr()
    assert main(common + ["--name", "plain"]) == 0, capsys.readouterr()
    assert read_card("renders", tmp_path).hyperparameters["split_drawings"] is False
    assert read_card("whole", tmp_path).hyperparameters["split_drawings"] is True
    assert read_card("plain", tmp_path).hyperparameters["split_drawings"] is False


def test_existing_name_is_not_overwritten(mnist_subset, tmp_path):
    config = TrainConfig("mlp-16-16-relu", epochs=1, train_size=200)
    train_model(config, data=mnist_subset, save_as="taken", models_dir=tmp_path)
    before = (tmp_path / "taken.keras").read_bytes()
    with pytest.raises(FileExistsError):
        train_model(config, data=mnist_subset, save_as="taken", models_dir=tmp_path)
    assert (tmp_path / "taken.keras").read_bytes() == before


def test_augmentation_keeps_digits_recognisable(mnist_subset):
    (x_train, _), _ = mnist_subset
    images = x_train[:256].astype(np.float32) / 255
    out = augment_batch(images).numpy()
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    changed = np.abs(out - images).mean(axis=(1, 2))
    assert (changed > 1e-3).mean() > 0.9  # nearly every image is distorted
    correlation = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(out, images)]
    assert np.median(correlation) > 0.5  # but stays close to the original
    ink_ratio = out.sum(axis=(1, 2)) / images.sum(axis=(1, 2))
    assert 0.5 < np.median(ink_ratio) < 1.6


def test_pen_drawn_digits_join_training_and_the_card_says_so(mnist_subset, monkeypatch):
    sample = Path(__file__).parent / "data" / "pendigits-sample.tra"
    monkeypatch.setenv("PENDIGITS_PATH", str(sample))
    from mnist_core.sources.pendigits import load_pendigits

    writers = sorted({d.writer for d in load_pendigits()})[:5]
    n_pen = sum(d.writer in writers for d in load_pendigits())
    result = train_model(
        TrainConfig("mlp-16-16-relu", epochs=1, train_size=200, validation_split=0.0,
                    pen_writers=writers, pen_renders=2),
        data=mnist_subset,
    )
    assert result.card.train_images == 200 + 2 * n_pen
    assert result.card.pen_writers == writers
    assert "pendigits" in result.card.trained_on


def test_non_digits_are_fitted_as_unsure_and_never_scored(mnist_subset, tmp_path):
    config = TrainConfig("mlp-64-64-relu", epochs=3, batch_size=32, seed=3, non_digits=300)
    result = train_model(config, data=mnist_subset, save_as="refuser", models_dir=tmp_path)
    card = result.card
    assert card.train_images == 900 and card.val_images == 100  # digits only
    assert "300 synthetic non-digits" in card.trained_on
    assert card.hyperparameters["non_digits"] == 300
    assert card.test_accuracy > 0.7  # scored on the 500 test digits, as before
    images, _ = non_digits(100, seed=99, kinds=("scribble", "shape"))
    unsure = predict_proba(result.model, np.stack([canvas_to_mnist(i) for i in images]))
    plain = train_model(TrainConfig("mlp-64-64-relu", epochs=3, batch_size=32, seed=3),
                        data=mnist_subset).model
    sure = predict_proba(plain, np.stack([canvas_to_mnist(i) for i in images]))
    assert unsure.max(axis=1).mean() < sure.max(axis=1).mean() - 0.1


def test_non_digit_kinds_add_touching_digits_fragments_and_doodles(mnist_subset, monkeypatch):
    sample = Path(__file__).parent / "data" / "pendigits-sample.tra"
    monkeypatch.setenv("PENDIGITS_PATH", str(sample))
    config = TrainConfig("mlp-16-16-relu", epochs=1, train_size=200, validation_split=0.0,
                         pen_writers=[1, 2], pen_renders=1, non_digits=60,
                         non_digit_kinds=list(ALL_KINDS))
    card = train_model(config, data=mnist_subset).card
    assert list(card.hyperparameters["non_digit_kinds"]) == list(ALL_KINDS)
    assert ("60 synthetic non-digits (letters, scribbles, digit pairs, shapes, touching "
            "digits, digits cut in two, doodles)") in card.trained_on
    # without pen-drawn digits there are none to pair or cut
    plain = train_model(TrainConfig("mlp-16-16-relu", epochs=1, train_size=200,
                                    non_digits=30, non_digit_kinds=("touching", "letter")),
                        data=mnist_subset).card
    assert "(letters)" in plain.trained_on
    with pytest.raises(ValueError, match="non_digit_kinds must be some of"):
        TrainConfig("mlp-16-16-relu", non_digits=10, non_digit_kinds=("emoji",)).resolved()
    with pytest.raises(ValueError, match="choose pen_writers"):
        TrainConfig("mlp-16-16-relu", non_digits=10, non_digit_kinds=("touching",)).resolved()


def test_a_run_can_fit_a_stored_models_network_further(mnist_subset, tmp_path):
    base = TrainConfig("mlp-16-16-relu", epochs=2, batch_size=64, train_size=300, seed=2)
    train_model(base, data=mnist_subset, save_as="base", models_dir=tmp_path)
    start = load_model("base", tmp_path).network.get_weights()
    # a learning rate too small to move the weights: the run starts where "base" ended
    still = TrainConfig("mlp-16-16-relu", epochs=1, batch_size=64, train_size=300, seed=5,
                        learning_rate=1e-9, start_from="base")
    result = train_model(still, data=mnist_subset, save_as="more", models_dir=tmp_path)
    for before, after in zip(start, result.model.get_weights(), strict=True):
        np.testing.assert_allclose(after, before, atol=1e-5)
    card = read_card("more", tmp_path)
    assert card.hyperparameters["start_from"] == "base"
    assert "fitted further from model 'base'" in card.description
    # at its own pace it learns on from there: its first epoch beats a fresh network's
    on, fresh = [], []
    train_model(replace(still, learning_rate=None), data=mnist_subset, models_dir=tmp_path,
                progress=on.append)
    fresh_run = train_model(replace(still, learning_rate=None, start_from=None),
                            data=mnist_subset, progress=fresh.append)
    assert not np.allclose(fresh_run.model.get_weights()[0], start[0], atol=1e-3)
    assert on[-1].history["loss"][0] < fresh[-1].history["loss"][0]


def test_a_run_refuses_to_start_from_a_model_that_does_not_fit_it(mnist_subset, tmp_path):
    train_model(TrainConfig("mlp-16-16-relu", epochs=1, train_size=200), data=mnist_subset,
                save_as="small", models_dir=tmp_path)
    wider = TrainConfig("mlp-64-64-relu", epochs=1, train_size=200, start_from="small")
    refused = r"model 'small' is a 'mlp-16-16-relu' network, not 'mlp-64-64-relu'"
    with pytest.raises(ValueError, match=refused):
        train_model(wider, data=mnist_subset, models_dir=tmp_path)
    with pytest.raises(ModelNotFoundError, match="nowhere"):
        train_model(replace(wider, start_from="nowhere"), data=mnist_subset,
                    models_dir=tmp_path)
    with pytest.raises(ValueError, match="start_from must name a stored model"):
        replace(wider, start_from=" ").resolved()


def test_the_command_line_trains_on_from_a_stored_model(mnist_subset, tmp_path, capsys):
    from mnist_core.__main__ import main
    from tests.conftest import SUBSET_DIR

    train_model(TrainConfig("mlp-16-16-relu", epochs=1, train_size=200), data=mnist_subset,
                save_as="small", models_dir=tmp_path)
    common = ["--models-dir", str(tmp_path), "--data-dir", str(SUBSET_DIR), "train",
              "--start-from", "small", "--epochs", "1", "--train-size", "200"]
    assert main(common + ["--name", "on"]) == 0, capsys.readouterr()
    card = read_card("on", tmp_path)  # the stored model's architecture, unless named
    assert card.architecture == "mlp-16-16-relu" and card.hyperparameters["start_from"] == "small"
    capsys.readouterr()
    assert main(common + ["--name", "wide", "--arch", "mlp-64-64-relu"]) == 2
    assert "model 'small' is a 'mlp-16-16-relu' network" in capsys.readouterr().err
    assert not (tmp_path / "wide.keras").exists()
