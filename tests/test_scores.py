"""`mnist_core.store.scores`: a model's readings of the MNIST test set, stored beside it when it
is saved, removed and remade with it, and read only while they belong to the graph the
model is served through."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from mnist_core.__main__ import main
from mnist_core.errors import InvalidModelError, ModelProtectedError
from mnist_core.model.card import DIGIT
from mnist_core.reading.evaluate import evaluate_model
from mnist_core.reading.inference import predict_proba
from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.store import registry, saving
from mnist_core.store.scores import Scores, ScoresError, score_model
from tests.conftest import SUBSET_DIR


@pytest.fixture
def store(subset_model_store, tmp_path):
    """A folder of its own holding the subset-trained `seed-cnn` (its files copied)."""
    for path in subset_model_store.glob("seed-cnn.*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


@pytest.fixture(scope="module")
def test_set(mnist_subset):
    _, (x_test, y_test) = mnist_subset
    return prepare_mnist(x_test), y_test


def test_a_trained_model_is_saved_with_readings_that_score_as_reading_it_now(store, test_set):
    stored = registry.read_scores("seed-cnn", store)
    assert stored is not None
    now = evaluate_model(registry.open_model("seed-cnn", store), *test_set)
    kept = stored.evaluation()
    assert kept.accuracy == now.accuracy
    np.testing.assert_array_equal(kept.confusion, now.confusion)
    np.testing.assert_array_equal(kept.predictions, now.predictions)
    np.testing.assert_allclose(kept.probabilities, now.probabilities, atol=1e-3)
    assert kept.loss == pytest.approx(now.loss, rel=1e-2)
    assert len(kept.labels) == len(test_set[1]) == 500
    assert stored.graph_sha256 == registry.read_card("seed-cnn", store).onnx_sha256


def test_the_images_kept_are_those_of_the_misread_digits(store, test_set):
    stored = registry.read_scores("seed-cnn", store)
    result = stored.evaluation()
    wrong = result.misclassified
    assert 0 < len(wrong) < 500  # a few epochs on 1,000 digits: some, not all, wrong
    for index in wrong:
        np.testing.assert_allclose(stored.image(index), test_set[0][index], atol=0.5 / 255)
    right = int(np.flatnonzero(result.predictions == result.labels)[0])
    with pytest.raises(IndexError, match="read right"):
        stored.image(right)


def test_readings_are_a_fraction_of_the_test_set_they_describe(store):
    size = registry.scores_path("seed-cnn", store).stat().st_size
    assert size < 60_000  # 500 digits: probabilities in float16, misread images only


def test_readings_of_another_graph_are_stale_and_the_command_remakes_them(store, capsys):
    card = registry.read_card("seed-cnn", store)
    saving.write_card("seed-cnn", card.replace(onnx_sha256="0" * 64), store)
    assert registry.read_scores("seed-cnn", store) is None
    saving.write_card("seed-cnn", card, store)
    assert registry.read_scores("seed-cnn", store) is not None

    registry.scores_path("seed-cnn", store).unlink()
    assert registry.read_scores("seed-cnn", store) is None
    args = ["--models-dir", str(store), "--data-dir", str(SUBSET_DIR), "score"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "seed-cnn:" in printed and "of 500 test digits read right" in printed
    assert registry.read_scores("seed-cnn", store) is not None
    assert main(args) == 0  # nothing left to do
    assert "has its test readings" in capsys.readouterr().out


def test_a_damaged_readings_file_is_an_invalid_model_and_scoring_replaces_it(store, test_set):
    registry.scores_path("seed-cnn", store).write_bytes(b"not a zip")
    with pytest.raises(InvalidModelError, match="cannot be read"):
        registry.read_scores("seed-cnn", store)
    model = registry.open_model("seed-cnn", store, memory_arena=False)
    saving.write_scores("seed-cnn", score_model(model, test_set), store)
    assert registry.read_scores("seed-cnn", store).evaluation().accuracy > 0.5
    with pytest.raises(ScoresError):
        Scores.from_bytes(b"PK\x03\x04 truncated")


def test_saving_without_a_test_set_drops_the_old_readings_and_delete_removes_them(store):
    model = registry.load_model("seed-cnn", store)
    saving.save_model(model.network, "seed-cnn", model.card, directory=store, overwrite=True)
    assert not registry.scores_path("seed-cnn", store).exists()
    saving.save_model(model.network, "other", model.card, directory=store,
                        test_set=(np.zeros((3, 28, 28), np.float32), np.array([0, 1, 2])))
    assert registry.scores_path("other", store).exists()
    saving.delete_model("other", store)
    assert not list(store.glob("other.*"))


def test_quantizing_stores_the_int8_graphs_readings(store):
    rc = main(["--models-dir", str(store), "--data-dir", str(SUBSET_DIR),
               "quantize", "--name", "seed-cnn"])
    assert rc == 0
    card = registry.read_card("seed-cnn", store)
    stored = registry.read_scores("seed-cnn", store)
    assert stored.graph_sha256 == card.int8.onnx_sha256 != card.onnx_sha256
    int8 = registry.open_model("seed-cnn", store)
    assert np.array_equal(stored.predictions, predict_proba(
        int8, prepare_mnist(registry_test_images())).argmax(axis=1))


def registry_test_images() -> np.ndarray:
    from mnist_core.sources.data import load_mnist

    return load_mnist(SUBSET_DIR)[1][0]


def test_shipped_models_carry_readings_of_the_full_test_set_and_refuse_new_ones():
    for info in registry.list_models(registry.DEFAULT_SHIPPED_DIR, task=DIGIT):
        stored = registry.read_scores(info.name, registry.DEFAULT_SHIPPED_DIR)
        assert stored is not None, info.name
        assert len(stored.labels) == 10_000, info.name
        # the card's figure is Keras' own; the stored readings are the served graph's
        assert stored.evaluation().accuracy == pytest.approx(info.test_accuracy, abs=2e-3)
        assert registry.scores_path(info.name).stat().st_size < 300_000
    default = registry.default_model_name()
    with pytest.raises(ModelProtectedError):
        saving.write_scores(default, registry.read_scores(default))
