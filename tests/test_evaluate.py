"""`mnist_core.reading.evaluate`: known answers from hand-made probabilities, and a real model."""

from __future__ import annotations

import numpy as np

from mnist_core.reading.evaluate import evaluate_model, evaluation_from_probabilities
from mnist_core.reading.preprocess import prepare_mnist
from mnist_core.store.registry import load_model


def _one_hot(predictions):
    out = np.full((len(predictions), 10), 0.01, np.float32)
    out[np.arange(len(predictions)), predictions] = 0.91
    return out


def test_known_confusion_precision_recall():
    labels = np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 3])
    predicted = np.array([0, 0, 1, 1, 1, 2, 2, 7, 2, 3])
    result = evaluation_from_probabilities(_one_hot(predicted), labels)
    assert result.accuracy == 0.8
    assert result.confusion[0, 0] == 2 and result.confusion[0, 1] == 1
    assert result.confusion[2, 7] == 1 and result.confusion.sum() == 10
    assert result.recall[0] == 2 / 3 and result.precision[1] == 2 / 3
    assert result.recall[2] == 0.75 and np.isnan(result.recall[4])
    assert result.precision[7] == 0.0
    assert result.misclassified.tolist() == [2, 7]
    assert result.misclassified_as(2, 7).tolist() == [7]
    assert result.top_confusions() == [(2, 7, 1), (0, 1, 1)] or result.top_confusions() == [
        (0, 1, 1), (2, 7, 1)]
    assert abs(result.loss - (-np.log(0.91) * 0.8 - np.log(0.01) * 0.2)) < 1e-4


def test_real_model_on_the_subset(subset_model_store, mnist_subset):
    _, (x_test, y_test) = mnist_subset
    result = evaluate_model(load_model("seed-cnn", subset_model_store), prepare_mnist(x_test),
                            y_test)
    assert result.accuracy > 0.85
    assert result.confusion.sum() == 500
    np.testing.assert_array_equal(result.confusion.sum(axis=1), np.bincount(y_test))
    assert len(result.misclassified) == round((1 - result.accuracy) * 500)
