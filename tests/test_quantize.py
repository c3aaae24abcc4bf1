"""`mnist_core.training.quantize`: a model's int8 graph, kept only if it reads as well as the
float one, and how the store serves, replaces and removes it."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import onnx
import pytest

from mnist_core.__main__ import main
from mnist_core.errors import InvalidModelError, InvalidModelNameError
from mnist_core.model.card import ModelCard
from mnist_core.model.runtime import OUTPUTS
from mnist_core.model.verdict import ReadingPolicy
from mnist_core.reading.inference import predict_proba
from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.store import registry, saving
from mnist_core.training import quantize
from mnist_core.training.config import TrainConfig
from mnist_core.training.models import build_model
from mnist_core.training.run_data import validation_digits
from tests.conftest import SUBSET_DIR


@pytest.fixture
def store(subset_model_store, tmp_path):
    """A folder of its own holding the subset-trained `seed-cnn` (its files copied)."""
    for path in subset_model_store.glob("seed-cnn.*"):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


@pytest.fixture
def quantized(store, capsys):
    """`store` after `python -m mnist_core quantize --name seed-cnn`, and what it printed."""
    rc = main(["--models-dir", str(store), "--data-dir", str(SUBSET_DIR),
               "quantize", "--name", "seed-cnn"])
    assert rc == 0
    return store, capsys.readouterr().out


def test_the_int8_graph_is_stored_with_its_checksum_and_served(quantized, mnist_subset):
    store, printed = quantized
    graph = store / "seed-cnn.int8.onnx"
    card = registry.read_card("seed-cnn", store)
    entry = card.int8
    assert entry.onnx_sha256 == hashlib.sha256(graph.read_bytes()).hexdigest()
    assert "wrote seed-cnn.int8.onnx" in printed
    assert f"{entry.val_errors} of {entry.val_images:,} validation digits" in printed
    # judged on the recipe's own validation digits, and no worse than the float graph
    cfg = TrainConfig.from_card(card.hyperparameters).resolved()
    assert entry.val_images == len(validation_digits(cfg, mnist_subset[0])[1]) == 100
    assert entry.val_errors <= entry.float_val_errors

    served = registry.open_model("seed-cnn", store)
    exact = registry.open_model("seed-cnn", store, float_graph=True)
    assert served.network.path == graph
    assert exact.network.path == store / "seed-cnn.onnx"
    assert served.policy == entry.reading.policy != ReadingPolicy()
    assert exact.policy == card.policy

    images = prepare_mnist(mnist_subset[1][0])
    p_int8, p_float = predict_proba(served, images), predict_proba(exact, images)
    assert np.abs(p_int8 - p_float).max() < 0.1
    assert (p_int8.argmax(axis=1) == p_float.argmax(axis=1)).mean() >= 0.98
    assert not np.allclose(p_int8, p_float, atol=1e-5)  # it is another graph


def test_the_class_scores_and_softmax_stay_in_float(quantized):
    store, _ = quantized
    ops = [node.op_type for node in onnx.load(store / "seed-cnn.int8.onnx").graph.node]
    assert "QuantizeLinear" in ops and "DequantizeLinear" in ops
    assert "Softmax" in ops and "QLinearSoftmax" not in ops
    head = quantize.float_head(onnx.load(store / "seed-cnn.onnx").graph)
    assert len(head) == 3  # the last layer's MatMul and bias, then its softmax


def test_the_int8_graph_gives_the_float_graphs_named_outputs(quantized, mnist_subset):
    store, _ = quantized
    graph = onnx.load(store / "seed-cnn.int8.onnx").graph
    assert [output.name for output in graph.output] == list(OUTPUTS)
    served = registry.open_model("seed-cnn", store).network
    exact = registry.open_model("seed-cnn", store, float_graph=True).network
    images = prepare_mnist(mnist_subset[1][0][:100])
    int8, float_ = served.outputs(images), exact.outputs(images)
    np.testing.assert_array_equal(int8["probabilities"], served(images))
    assert int8["features"].shape == float_["features"].shape == (100, 128)
    # the features are the float ones to within int8's steps
    scale = np.abs(float_["features"]).max()
    assert np.abs(int8["features"] - float_["features"]).max() < 0.1 * scale


def test_calibration_never_sees_the_validation_digits(store, mnist_subset):
    card = registry.read_card("seed-cnn", store)
    cfg = TrainConfig.from_card(card.hyperparameters).resolved()
    images = quantize.calibration_images(cfg, mnist_subset[0])
    x_val, _ = validation_digits(cfg, mnist_subset[0])
    assert len(images) == quantize.CALIBRATION_DIGITS  # of 900 fitted; no non-digits
    seen = {image.tobytes() for image in images}
    assert not seen & {image.tobytes() for image in x_val}


def test_saving_over_a_model_drops_its_int8_graph(quantized):
    store, _ = quantized
    saving.save_model(build_model("seed-cnn"), "seed-cnn", ModelCard(), directory=store,
                        overwrite=True)
    assert not (store / "seed-cnn.int8.onnx").exists()
    assert registry.read_card("seed-cnn", store).int8 is None
    assert registry.open_model("seed-cnn", store).network.path == store / "seed-cnn.onnx"
    # a card carried over with an int8 entry does not name a graph the weights lack
    saving.save_model(build_model("seed-cnn"), "other",
                        ModelCard(int8={"onnx_sha256": "0" * 64}), directory=store)
    assert registry.read_card("other", store).int8 is None


def test_deleting_a_model_deletes_its_int8_graph(quantized):
    store, _ = quantized
    saving.delete_model("seed-cnn", store)
    assert not list(store.glob("seed-cnn*"))


def test_a_damaged_or_missing_int8_graph_is_refused_and_the_float_one_still_reads(quantized):
    store, _ = quantized
    graph = store / "seed-cnn.int8.onnx"
    graph.write_bytes(b"not a graph")
    with pytest.raises(InvalidModelError, match="SHA-256"):
        registry.open_model("seed-cnn", store)
    graph.unlink()
    with pytest.raises(InvalidModelError, match="quantize seed-cnn"):
        registry.open_model("seed-cnn", store)
    assert registry.open_model("seed-cnn", store, float_graph=True).network.path.exists()


def test_an_int8_graph_that_reads_worse_is_not_kept(store, mnist_subset, monkeypatch):
    before = registry.read_card("seed-cnn", store)
    # stands in for a quantization gone wrong: another network's graph, untrained
    saving.save_model(build_model("seed-cnn"), "untrained", ModelCard(), directory=store)
    wrong = (store / "untrained.onnx").read_bytes()
    monkeypatch.setattr(quantize, "int8_graph", lambda graph, images: wrong)
    with pytest.raises(quantize.QuantizationRejected, match="kept in float only"):
        quantize.quantize_model("seed-cnn", data=mnist_subset, directory=store)
    assert not (store / "seed-cnn.int8.onnx").exists()
    assert registry.read_card("seed-cnn", store) == before
    assert registry.open_model("seed-cnn", store).network.path == store / "seed-cnn.onnx"


@pytest.mark.parametrize("name", ["cnn.int8", "x.INT8"])
def test_names_of_int8_graphs_are_not_model_names(name):
    with pytest.raises(InvalidModelNameError, match="int8"):
        registry.validate_name(name)


def test_the_shipped_default_serves_an_int8_graph_that_reads_as_its_float_one(mnist_subset):
    name = registry.default_model_name()
    card = registry.read_card(name)
    assert card.int8, f"the default {name!r} has no int8 graph"
    served, exact = registry.open_model(name), registry.open_model(name, float_graph=True)
    assert served.network.path.name == f"{name}.int8.onnx"
    assert served.network.output_names == exact.network.output_names == OUTPUTS
    assert card.int8.val_errors <= card.int8.float_val_errors
    images = prepare_mnist(mnist_subset[0][0][:500])
    p_int8, p_float = predict_proba(served, images), predict_proba(exact, images)
    assert np.abs(p_int8 - p_float).max() < 0.05
    assert (p_int8.argmax(axis=1) != p_float.argmax(axis=1)).sum() <= 1
    # its "not sure" threshold was fitted on its own probabilities, near the float one's
    assert abs(served.policy.min_probability - exact.policy.min_probability) < 0.05
