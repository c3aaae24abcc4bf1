"""`mnist_core.runtime` and the store's ONNX graphs: every save exports one, the web
server reads with it (`registry.open_model`), and it gives the Keras network's
probabilities, for the shipped models and a freshly trained one, on MNIST and drawings."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

from mnist_core import registry
from mnist_core.__main__ import main
from mnist_core.errors import InvalidModelError, OnnxMissingError
from mnist_core.inference import predict_proba, read_drawing, read_number
from mnist_core.preprocess import canvas_to_mnist, prepare_mnist
from mnist_core.runtime import OnnxNetwork

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
    assert_same_reading(name, folder, images)


def test_a_trained_model_is_saved_with_its_graph_and_reads_the_same(subset_model_store,
                                                                     images):
    files = sorted(p.name for p in subset_model_store.iterdir())
    assert files == ["seed-cnn.json", "seed-cnn.keras", "seed-cnn.onnx",
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
    registry.delete_model("seed-cnn", copied)
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
