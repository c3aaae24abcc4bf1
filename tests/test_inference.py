"""`mnist_core.inference.predict_proba`: shapes, sums and agreement with the model."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_core import inference
from mnist_core.inference import predict_proba
from mnist_core.models import ARCHITECTURES, build_model


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


@pytest.mark.parametrize("name", list(ARCHITECTURES))
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
