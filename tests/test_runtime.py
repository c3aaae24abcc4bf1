"""`mnist_core.model.runtime` and the store's ONNX graphs: every save exports one, the web
server reads with it (`registry.open_model`), and it gives the Keras network's
probabilities, for the shipped models and a freshly trained one, on MNIST and drawings."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from mnist_core.__main__ import main
from mnist_core.errors import InvalidModelError, MissingOutputError, OnnxMissingError
from mnist_core.model.card import NUMBER
from mnist_core.model.runtime import OUTPUTS, OnnxNetwork
from mnist_core.reading.inference import predict_proba, read_drawing, read_number
from mnist_core.reading.preprocess import canvas_to_mnist, prepare_mnist
from mnist_core.store import registry, saving

from .drawing import draw_strokes, enlarge_mnist

TOLERANCE = 1e-5  # max abs difference between the ONNX and Keras probabilities


@pytest.fixture(scope="module")
def images(mnist_subset):
    """The subset's test digits as MNIST has them, and drawn large on the pad."""
    _, (x_test, _) = mnist_subset
    drawn = np.stack([canvas_to_mnist(enlarge_mnist(digit)) for digit in x_test[:60]])
    strokes = np.stack([canvas_to_mnist(draw_strokes(s)) for s in (
        [[(140, 40), (140, 240)]],  # a 1
        [[(80, 60), (200, 60), (110, 240)]],  # a 7
        [[(90, 70), (190, 70), (190, 140), (90, 140), (90, 210), (190, 210)]],  # a 2 of sorts
    )])
    return np.concatenate([prepare_mnist(x_test), drawn, strokes])


def assert_same_reading(name, folder, images):
    keras_model = registry.load_model(name, folder)
    onnx_model = registry.open_model(name, folder, float_graph=True)  # int8: test_quantize
    assert isinstance(onnx_model.network, OnnxNetwork)
    assert onnx_model.policy == keras_model.policy
    for batch in (images, images[:1]):  # the batch path and the single-image path
        difference = np.abs(predict_proba(onnx_model, batch) - predict_proba(keras_model, batch))
        assert difference.max() <= TOLERANCE, (name, float(difference.max()))


@pytest.mark.parametrize("name", [p.stem for p in sorted(registry.DEFAULT_SHIPPED_DIR.glob(
    "*.keras"))])
def test_each_shipped_model_reads_the_same_with_onnx(name, images):
    folder = registry.DEFAULT_SHIPPED_DIR
    card = registry.read_card(name, folder)
    graph = (folder / f"{name}.onnx").read_bytes()
    assert card.onnx_sha256 == hashlib.sha256(graph).hexdigest()
    if card.task == NUMBER:  # numbers in, digit-or-blank per step out
        assert_same_number_reading(name, folder, images)
    else:
        assert_same_reading(name, folder, images)


def assert_same_number_reading(name, folder, images):
    """A whole-number reader reads alike through Keras and ONNX: numbers made of the
    test images side by side, prepared as the reader prepares a written number."""
    from mnist_core.reading.number_input import prepare_number
    from mnist_core.reading.number_reader import number_probabilities

    rows = [np.hstack(list(images[i: i + 4])) for i in range(0, 32, 4)]
    prepared = np.stack([prepare_number(row).image for row in rows])
    keras_model = registry.load_model(name, folder)
    onnx_model = registry.open_model(name, folder)
    difference = np.abs(number_probabilities(onnx_model, prepared)
                        - number_probabilities(keras_model, prepared))
    assert difference.max() <= TOLERANCE, (name, float(difference.max()))


def test_a_trained_model_is_saved_with_its_graph_and_reads_the_same(subset_model_store,
                                                                     images):
    files = sorted(p.name for p in subset_model_store.iterdir())
    assert files == ["seed-cnn.json", "seed-cnn.keras", "seed-cnn.layers.onnx", "seed-cnn.onnx",
                     "seed-cnn.scores.npz"]
    assert_same_reading("seed-cnn", subset_model_store, images)


def test_drawings_and_numbers_read_alike_on_both_paths(subset_model_store):
    keras_model = registry.load_model("seed-cnn", subset_model_store)
    onnx_model = registry.open_model("seed-cnn", subset_model_store)
    drawing = draw_strokes([[(80, 60), (200, 60), (110, 240)]])
    (x_keras, keras_reading), (x_onnx, onnx_reading) = (
        read_drawing(model, drawing) for model in (keras_model, onnx_model))
    np.testing.assert_array_equal(x_keras, x_onnx)
    np.testing.assert_allclose(onnx_reading.probabilities, keras_reading.probabilities,
                               atol=TOLERANCE)
    number = np.zeros((240, 720), np.uint8)
    for i, digit in enumerate((drawing, draw_strokes([[(140, 40), (140, 240)]]))):
        number[:, 40 + 300 * i: 40 + 300 * i + 240] = digit[20:260, 20:260]
    keras_number, onnx_number = (read_number(m, number) for m in (keras_model, onnx_model))
    assert onnx_number.text == keras_number.text
    for a, b in zip(onnx_number.digits, keras_number.digits):
        np.testing.assert_allclose(a.probabilities, b.probabilities, atol=TOLERANCE)


@pytest.fixture
def copied(subset_model_store, tmp_path):
    for path in subset_model_store.iterdir():
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_a_model_saved_before_export_says_how_to_make_its_graph(copied, capsys):
    (copied / "seed-cnn.onnx").unlink()
    card = json.loads((copied / "seed-cnn.json").read_text())
    del card["onnx_sha256"]
    (copied / "seed-cnn.json").write_text(json.dumps(card))
    with pytest.raises(OnnxMissingError, match="python -m mnist_core export seed-cnn"):
        registry.open_model("seed-cnn", copied)

    assert main(["--models-dir", str(copied), "export", "seed-cnn"]) == 0
    assert "seed-cnn.onnx" in capsys.readouterr().out
    after = json.loads((copied / "seed-cnn.json").read_text())
    assert after == card | {"onnx_sha256": after["onnx_sha256"]}  # the checksum added alone
    assert registry.open_model("seed-cnn", copied).card.onnx_sha256 == after["onnx_sha256"]


def test_a_graph_its_card_does_not_name_or_a_damaged_one_is_refused(copied):
    with (copied / "seed-cnn.onnx").open("ab") as graph:
        graph.write(b"\0")
    with pytest.raises(InvalidModelError, match="not this model's graph"):
        registry.open_model("seed-cnn", copied)
    (copied / "seed-cnn.onnx").write_bytes(b"garbage")
    card = json.loads((copied / "seed-cnn.json").read_text())
    card["onnx_sha256"] = hashlib.sha256(b"garbage").hexdigest()
    (copied / "seed-cnn.json").write_text(json.dumps(card))
    with pytest.raises(InvalidModelError, match="cannot be opened"):
        registry.open_model("seed-cnn", copied)


def test_delete_takes_the_graph_too(copied):
    saving.delete_model("seed-cnn", copied)
    assert list(copied.iterdir()) == []


def test_predict_reads_an_image_file_with_onnx(subset_model_store, mnist_subset, tmp_path,
                                               capsys):
    import cv2

    _, (x_test, y_test) = mnist_subset
    cv2.imwrite(str(tmp_path / "digit.png"), enlarge_mnist(x_test[0]))
    assert main(["--models-dir", str(subset_model_store), "predict",
                 str(tmp_path / "digit.png"), "--name", "seed-cnn"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 2 and out.splitlines()[1].startswith("0: ")


def penultimate(network, images):
    """What the Keras network's class-score layer (its last Dense) reads."""
    import keras

    dense = [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)][-1]
    return keras.Model(network.input, dense.input)(images, training=False).numpy()


def test_a_saved_models_graph_names_probabilities_then_features(subset_model_store, images):
    import onnx

    graph = onnx.load(str(subset_model_store / "seed-cnn.onnx"))
    assert [output.name for output in graph.graph.output] == list(OUTPUTS)
    network = registry.open_model("seed-cnn", subset_model_store).network
    assert network.output_names == OUTPUTS
    found = network.outputs(images, "features", "probabilities")
    assert list(found) == ["features", "probabilities"]  # in the order asked for
    np.testing.assert_array_equal(found["probabilities"], network(images))
    assert found["features"].shape == (len(images), 128)  # seed-cnn's Dense(128)
    keras_network = registry.load_model("seed-cnn", subset_model_store).network
    np.testing.assert_allclose(found["features"], penultimate(keras_network, images),
                               atol=1e-4)
    assert list(network.outputs(images[:1])) == list(OUTPUTS)  # all of them, none named


def test_a_single_output_graph_from_before_still_reads_and_says_it_has_no_features(
        copied, images):
    import onnx

    graph = onnx.load(str(copied / "seed-cnn.onnx"))
    expected = registry.open_model("seed-cnn", copied).network(images)
    # as older versions exported it: one output, named by the exporter
    del graph.graph.output[1:]
    for node in graph.graph.node:
        node.output[:] = ["Identity:0" if name == "probabilities" else name
                          for name in node.output]
    graph.graph.output[0].name = "Identity:0"
    data = graph.SerializeToString()
    (copied / "seed-cnn.onnx").write_bytes(data)
    card = json.loads((copied / "seed-cnn.json").read_text())
    card["onnx_sha256"] = hashlib.sha256(data).hexdigest()
    (copied / "seed-cnn.json").write_text(json.dumps(card))

    model = registry.open_model("seed-cnn", copied)
    assert model.network.output_names == ("probabilities",)
    np.testing.assert_array_equal(predict_proba(model, images), expected)
    assert list(model.network.outputs(images)) == ["probabilities"]
    with pytest.raises(MissingOutputError, match="gives no 'features'.*export it again"):
        model.network.outputs(images, "features")


def test_a_graph_whose_first_output_is_not_the_probabilities_is_refused(copied):
    import onnx

    graph = onnx.load(str(copied / "seed-cnn.onnx"))
    graph.graph.output.reverse()
    data = graph.SerializeToString()
    (copied / "seed-cnn.onnx").write_bytes(data)
    with pytest.raises(InvalidModelError, match="the first must be 'probabilities'"):
        OnnxNetwork(copied / "seed-cnn.onnx", sha256=hashlib.sha256(data).hexdigest())
