"""`mnist_core.reading.inference`: `predict_proba` (shapes, sums, agreement with the model) and
the upload path's `read_upload`."""

from __future__ import annotations

import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mnist_core.errors import EmptyDrawingError
from mnist_core.model.card import DIGIT
from mnist_core.reading import inference
from mnist_core.reading.images import read_image
from mnist_core.reading.inference import (
    SQUEEZES,
    predict_proba,
    read_digits,
    read_drawing,
    read_upload,
    read_views,
    upload_views,
)
from mnist_core.reading.photos import image_file, stretch_to_frame
from mnist_core.reading.preprocess import PreprocessSteps, canvas_to_mnist, photo_to_mnist
from mnist_core.store import registry
from mnist_core.training.architectures import ARCHITECTURES
from mnist_core.training.models import build_model

from .conftest import ROOT, SUBSET_DIR
from .drawing import draw_strokes


@pytest.fixture(scope="module")
def model():
    return build_model("seed-cnn")


def test_probabilities_match_a_direct_call(model, rng):
    images = rng.random((5, 28, 28), dtype=np.float32)
    out = predict_proba(model, images)
    assert out.shape == (5, 10) and out.dtype == np.float32
    np.testing.assert_allclose(out.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out, np.asarray(model(images, training=False)), atol=1e-6)


def test_single_image_and_large_batches(model, rng):
    images = rng.random((1030, 28, 28), dtype=np.float32)
    batch = predict_proba(model, images)
    assert batch.shape == (1030, 10)
    np.testing.assert_allclose(predict_proba(model, images[1029]), batch[1029:], atol=1e-6)
    assert predict_proba(model, images[:0]).shape == (0, 10)


@pytest.mark.parametrize("bad", [
    np.zeros((2, 28, 27)), np.zeros((784,)), np.full((1, 28, 28), 255.0),
    np.full((1, 28, 28), np.nan),
])
def test_bad_input_is_refused(model, bad):
    with pytest.raises(ValueError):
        predict_proba(model, bad)


@pytest.mark.parametrize("name", [name for name, arch in ARCHITECTURES.items()
                                  if arch.task == DIGIT])
def test_single_image_fast_path_agrees_with_batches(name, rng):
    model = build_model(name)
    images = rng.random((3, 28, 28), dtype=np.float32)
    batch = predict_proba(model, images)
    for i in range(3):
        np.testing.assert_allclose(predict_proba(model, images[i]), batch[i : i + 1], atol=1e-5)


def test_warm_up_compiles_the_single_image_path_before_the_first_drawing(rng):
    model = build_model("mlp-16-16-relu")
    assert model not in inference._compiled
    inference.warm_up(model)
    single, _ = inference._compiled[model]
    image = rng.random((1, 28, 28), dtype=np.float32)
    np.testing.assert_allclose(predict_proba(model, image),
                               np.asarray(model(image, training=False)), atol=1e-6)
    assert inference._compiled[model][0] is single  # the same compiled function, reused


@pytest.fixture(scope="module")
def default_model():
    return registry.load_model()


@pytest.mark.parametrize("pen", [6, 12])
def test_a_tap_on_the_pad_is_refused_not_read_as_a_sure_zero(default_model, pen):
    tap = draw_strokes([[(140, 140), (141, 141)]], width=pen, rgba=True)
    # prepared anyway, it is a filled disk that the default names a 0 (0.8 sure, 2026-11-25)
    assert read_digits(default_model, canvas_to_mnist(tap)).digits[0] == 0
    with pytest.raises(EmptyDrawingError, match="only a dot"):
        read_drawing(default_model, tap)


def test_a_drawing_is_read_as_canvas_to_mnist_prepares_it(default_model):
    seven = draw_strokes([[(80, 60), (200, 60), (130, 230)]], rgba=True)
    steps = PreprocessSteps()
    x, readings = read_drawing(default_model, seven, steps)
    np.testing.assert_array_equal(x, canvas_to_mnist(seven))
    np.testing.assert_array_equal(steps.centred, x)
    assert readings.digits.tolist() == [7]


def test_an_upload_of_ordinary_size_is_read_as_photo_to_mnist_prepares_it(
        default_model, mnist_subset):
    _, (x_test, _) = mnist_subset
    for digit in x_test[:5]:
        for image in (255 - digit, cv2.resize(255 - digit, (112, 112))):
            steps = PreprocessSteps()
            x, readings = read_upload(default_model, image, steps)
            alone = PreprocessSteps()
            np.testing.assert_array_equal(x, photo_to_mnist(image, alone))
            np.testing.assert_allclose(readings.probabilities,
                                       read_digits(default_model, x).probabilities, atol=1e-6)
            assert len(upload_views(image)) == 1 and steps.bbox == alone.bbox


def test_digits_stretched_to_fill_a_tiny_frame_are_read_squeezed_too(
        default_model, mnist_subset):
    """As Semeion stored its digits: an upright 1 becomes a block. Of the subset's 500
    test digits so stretched (16x16, black and white), the plain path reads 471 right
    and `read_upload` 485 (2026-11-24); of the 67 1s, 48 and 58."""
    _, (x_test, y_test) = mnist_subset
    images = [read_image(image_file(1 - (stretch_to_frame(d / 255.0, 16) > 0.5)))
              for d in x_test]
    plain = read_digits(default_model, np.stack([photo_to_mnist(i) for i in images]))
    read = [read_upload(default_model, image) for image in images]
    squeezed = [len(upload_views(image)) == 1 + len(SQUEEZES) for image in images]
    assert np.mean(squeezed) >= 0.9  # thresholding may shave a row or column off
    right = sum(int(r.probabilities[0].argmax() == y) for (_, r), y in zip(read, y_test))
    plain_right = int((plain.probabilities.argmax(axis=1) == y_test).sum())
    assert right >= plain_right + 10 and right >= 0.96 * len(y_test)
    # what the model saw is the view it read: squeezed ones are narrower
    steps = PreprocessSteps()
    x, readings = read_upload(default_model, images[0], steps)
    np.testing.assert_array_equal(x, steps.centred)


def test_no_uploads_read_to_no_readings(default_model):
    readings, chosen = read_views(default_model, [])
    assert readings.probabilities.shape == (0, 10) and len(readings.digits) == len(chosen) == 0


def test_the_command_line_loads_keras_without_tensorflows_start_up_noise(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    done = subprocess.run(
        [sys.executable, "-m", "mnist_core", "--data-dir", str(SUBSET_DIR), "evaluate",
         "--name", "seed-cnn"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert "accuracy" in done.stdout
    assert "cuInit" not in done.stderr and "oneDNN" not in done.stderr, done.stderr
    assert done.stderr.strip() == ""
