"""`mnist_core.store.registry`: round trips, atomic saves, bad names and bad files."""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from mnist_core.__main__ import main
from mnist_core.errors import (
    InvalidModelError,
    InvalidModelNameError,
    ModelNotFoundError,
    ModelProtectedError,
)
from mnist_core.model.card import ModelCard
from mnist_core.reading.inference import predict_proba
from mnist_core.store import registry, saving
from mnist_core.store.layers import open_layers
from mnist_core.training.models import build_model


@pytest.fixture
def store(tmp_path):
    model = build_model("mlp-16-16-relu")
    saving.save_model(model, "small", ModelCard(test_accuracy=0.5), directory=tmp_path)
    return tmp_path, model


def test_round_trip_gives_the_same_predictions(store, rng):
    folder, model = store
    images = rng.random((8, 28, 28), dtype=np.float32)
    loaded = registry.load_model("small", folder)
    np.testing.assert_allclose(predict_proba(loaded, images), predict_proba(model, images),
                               atol=1e-6)
    card = registry.read_card("small", folder)
    assert card == ModelCard(test_accuracy=0.5, name="small",
                             onnx_sha256=card.onnx_sha256, layers=card.layers)
    assert card.layers.onnx_sha256 not in (None, card.onnx_sha256)  # the layers graph's


def test_default_is_cnn_else_the_best(store):
    folder, model = store
    saving.save_model(model, "better", ModelCard(test_accuracy=0.9), directory=folder)
    assert registry.default_model_name(folder) == "better"
    saving.save_model(model, "cnn", ModelCard(test_accuracy=0.1), directory=folder)
    assert registry.default_model_name(folder) == "cnn"
    assert registry.load_model(None, folder).network.count_params() == model.count_params()


def test_empty_store(tmp_path):
    assert registry.list_models(tmp_path / "none") == []
    with pytest.raises(ModelNotFoundError, match="no models"):
        registry.load_model(None, tmp_path)


@pytest.mark.parametrize("name", ["", "../evil", "a/b", "a\\b", "..", ".hidden", "x" * 65,
                                  "sp ace", None])
def test_bad_names_are_refused(name, tmp_path):
    with pytest.raises(InvalidModelNameError):
        registry.model_path(name, tmp_path)


def test_missing_model_names_the_others(store):
    folder, _ = store
    with pytest.raises(ModelNotFoundError, match="have: small"):
        registry.load_model("absent", folder)


def test_corrupt_file_is_reported_and_others_still_load(store):
    folder, _ = store
    (folder / "broken.keras").write_bytes(b"PK\x03\x04 this is not a model")
    (folder / "broken.json").write_text("{ not json")
    infos = {info.name: info for info in registry.list_models(folder)}
    assert set(infos) == {"broken", "small"}
    assert "cannot be read" in infos["broken"].card_error
    with pytest.raises(InvalidModelError, match="broken.keras cannot be loaded"):
        registry.load_model("broken", folder)
    assert registry.load_model("small", folder) is not None


def test_incompatible_models_are_refused(tmp_path):
    inputs = keras.Input((32, 32, 3))
    wrong_input = keras.Model(inputs, keras.layers.Dense(10)(keras.layers.Flatten()(inputs)))
    with pytest.raises(InvalidModelError, match=r"\(32, 32, 3\)"):
        saving.save_model(wrong_input, "wrong", ModelCard(), directory=tmp_path)
    wrong_input.save(tmp_path / "wrong.keras")
    with pytest.raises(InvalidModelError, match="expected one of"):
        registry.load_model("wrong", tmp_path)
    inputs = keras.Input((28, 28))
    five = keras.Model(inputs, keras.layers.Dense(5)(keras.layers.Flatten()(inputs)))
    five.save(tmp_path / "five.keras")
    with pytest.raises(InvalidModelError, match=r"\(5,\)"):
        registry.load_model("five", tmp_path)


def test_crash_mid_save_leaves_the_old_model(store, monkeypatch):
    folder, model = store
    before = (folder / "small.keras").read_bytes()
    other = build_model("mlp-16-16-relu")

    def crash(self, *args, **kwargs):
        with open(args[0], "wb") as f:
            f.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(keras.Model, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        saving.save_model(other, "small", ModelCard(params=1), directory=folder, overwrite=True)
    assert (folder / "small.keras").read_bytes() == before
    assert json.loads((folder / "small.json").read_text())["test_accuracy"] == 0.5
    assert sorted(p.name for p in folder.iterdir()) == ["small.json", "small.keras",
                                                        "small.layers.onnx", "small.onnx"]
    assert open_layers("small", folder) is not None  # the old model's, as its card says


def test_a_full_disk_while_writing_the_card_lands_neither_model_nor_card(store, monkeypatch):
    folder, model = store
    write_text = Path.write_text

    def full(self, *args, **kwargs):
        if self.suffix == ".json":
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError, match="No space"):
        saving.save_model(model, "new", ModelCard(), directory=folder)
    with pytest.raises(OSError, match="No space"):
        saving.save_model(model, "small", ModelCard(params=1), directory=folder,
                            overwrite=True)
    assert sorted(p.name for p in folder.iterdir()) == ["small.json", "small.keras",
                                                        "small.layers.onnx", "small.onnx"]
    assert open_layers("small", folder) is not None  # the old model's, as its card says
    assert registry.read_card("small", folder).test_accuracy == 0.5


def test_overwrite_needs_consent_and_delete(store):
    folder, model = store
    with pytest.raises(FileExistsError):
        saving.save_model(model, "small", ModelCard(), directory=folder)
    saving.delete_model("small", folder)
    assert registry.list_models(folder) == []
    with pytest.raises(ModelNotFoundError):
        saving.delete_model("small", folder)


def test_saved_file_has_no_optimizer_state(store):
    folder, model = store
    weights_bytes = sum(w.nbytes for w in model.get_weights())
    assert (folder / "small.keras").stat().st_size < 1.5 * weights_bytes + 50_000


def test_a_model_left_without_its_card_is_listed_as_such_and_the_command_line_removes_it(
    store, tmp_path, monkeypatch, capsys
):
    folder, _ = store
    shipped = tmp_path / "shipped-models"
    shipped.mkdir()
    shutil.copy(folder / "small.keras", shipped / "cnn.keras")
    monkeypatch.setenv("MNIST_MODELS_DIR", str(folder))
    monkeypatch.setenv("MNIST_SHIPPED_MODELS_DIR", str(shipped))
    (folder / "small.json").unlink()  # as an older version could leave it
    info = {i.name: i for i in registry.list_models()}["small"]
    assert info.card == ModelCard() and info.card_error is None and info.owner is None
    with pytest.raises(ModelProtectedError, match="someone else"):
        saving.delete_model("small", owner="o_" + "a" * 32)
    assert main(["delete", "cnn"]) == 2  # shipped: refused, and said so
    assert "shipped model" in capsys.readouterr().err
    assert main(["delete", "small"]) == 0
    assert not (folder / "small.keras").exists() and not (folder / "small.onnx").exists()
    assert [i.name for i in registry.list_models()] == ["cnn"]


def test_a_run_holds_its_model_until_it_is_deleted_or_saved_again(store):
    folder, model = store
    saving.save_model(model, "mine", ModelCard(job="job-1"), directory=folder)
    assert registry.holds_run("mine", "job-1", folder)
    assert not registry.holds_run("mine", "job-2", folder)
    saving.save_model(model, "mine", ModelCard(job="job-2"), directory=folder, overwrite=True)
    assert not registry.holds_run("mine", "job-1", folder)  # replaced by a later run
    saving.delete_model("mine", folder)
    assert not registry.holds_run("mine", "job-2", folder)
    assert not registry.holds_run("never-saved", "job-3", folder)
