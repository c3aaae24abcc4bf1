"""Score a model on labelled digits: accuracy, confusion matrix, per-class figures."""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mnist_core.inference import predict_proba

NUM_CLASSES = 10


@dataclass
class Evaluation:
    """How a model did on a labelled set; `confusion[true, predicted]` holds counts."""

    accuracy: float
    loss: float
    confusion: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    predictions: np.ndarray
    probabilities: np.ndarray
    labels: np.ndarray

    @property
    def misclassified(self) -> np.ndarray:
        """Indices of the images the model got wrong."""
        return np.flatnonzero(self.predictions != self.labels)

    def misclassified_as(self, true: int, predicted: int) -> np.ndarray:
        """Indices of images of class `true` that the model called `predicted`."""
        return np.flatnonzero((self.labels == true) & (self.predictions == predicted))

    def top_confusions(self, count: int = 5) -> list[tuple[int, int, int]]:
        """The most frequent (true, predicted, count) mistakes, largest first."""
        off = self.confusion.copy()
        np.fill_diagonal(off, 0)
        order = np.argsort(off, axis=None)[::-1][:count]
        pairs = [np.unravel_index(i, off.shape) for i in order]
        return [(int(t), int(p), int(off[t, p])) for t, p in pairs if off[t, p] > 0]


def evaluate_model(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Score `model` on prepared `(N, 28, 28)` images with integer `labels`."""
    labels = np.asarray(labels).astype(np.int64)
    if len(labels) != len(images) or len(labels) == 0:
        raise ValueError(
            f"need as many labels as images (got {len(labels)} and {len(images)})"
        )
    probabilities = predict_proba(model, images)
    return evaluation_from_probabilities(probabilities, labels)


def evaluation_from_probabilities(probabilities: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Build an `Evaluation` from already computed class probabilities."""
    labels = np.asarray(labels).astype(np.int64)
    predictions = probabilities.argmax(axis=1)
    confusion = tf.math.confusion_matrix(
        labels, predictions, num_classes=NUM_CLASSES, dtype=tf.int64
    ).numpy()
    loss = float(
        keras.losses.sparse_categorical_crossentropy(labels, probabilities).numpy().mean()
    )
    correct = np.diag(confusion).astype(np.float64)
    predicted_totals = confusion.sum(axis=0)
    true_totals = confusion.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted_totals > 0, correct / predicted_totals, np.nan)
        recall = np.where(true_totals > 0, correct / true_totals, np.nan)
    return Evaluation(
        accuracy=float(correct.sum() / len(labels)),
        loss=loss,
        confusion=confusion,
        precision=precision,
        recall=recall,
        predictions=predictions,
        probabilities=probabilities,
        labels=labels,
    )
