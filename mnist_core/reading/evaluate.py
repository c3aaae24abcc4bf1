"""Score a model on labelled digits: accuracy, confusion matrix, per-class figures.

Plain numpy over the model's probabilities, so the web server scores a model it reads
with ONNX Runtime without importing TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.reading.inference import predict_proba

if TYPE_CHECKING:
    from mnist_core.model.loaded_model import LoadedModel

NUM_CLASSES = 10
# Probabilities are clipped to [EPSILON, 1 - EPSILON] before the log, as Keras' own
# cross-entropy does, so one confident mistake does not make the loss infinite.
EPSILON = 1e-7


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


def evaluate_model(model: LoadedModel, images: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Score `model` on prepared `(N, 28, 28)` images with integer `labels`."""
    labels = np.asarray(labels).astype(np.int64)
    if len(labels) != len(images) or len(labels) == 0:
        raise ValueError(
            f"need as many labels as images (got {len(labels)} and {len(images)})"
        )
    probabilities = predict_proba(model, images)
    return evaluation_from_probabilities(probabilities, labels)


def evaluation_from_probabilities(probabilities: np.ndarray, labels: np.ndarray,
                                  predictions: np.ndarray | None = None) -> Evaluation:
    """Build an `Evaluation` from already computed class probabilities; `predictions`,
    where given, are the digits named (from probabilities kept at a lower precision,
    the argmax of the full ones)."""
    labels = np.asarray(labels).astype(np.int64)
    if predictions is None:
        predictions = probabilities.argmax(axis=1)
    confusion = np.bincount(
        labels * NUM_CLASSES + predictions, minlength=NUM_CLASSES * NUM_CLASSES
    ).reshape(NUM_CLASSES, NUM_CLASSES)
    rows = probabilities / probabilities.sum(axis=1, keepdims=True)
    picked = np.clip(rows[np.arange(len(labels)), labels], EPSILON, 1 - EPSILON)
    loss = float(-np.log(picked).mean())
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
