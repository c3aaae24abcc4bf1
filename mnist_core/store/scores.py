"""A model's readings of the MNIST test set, made once where the model is made and kept
beside it as `<name>.scores.npz`, so the Evaluate page reads a few hundred KB instead
of scoring 10,000 digits for every visitor.

The file holds, for the graph the web server reads through (the int8 graph where the
card names one): each test digit's probabilities (float16), the digit named (from the
float32 probabilities, so counts are exact), the labels, the images it got wrong (all
the page shows of the test set) and that graph's SHA-256. Readings whose checksum is not
the served graph's are stale and not used.

    scores = score_network(network, images, labels, graph_sha256=card.onnx_sha256)
    path.write_bytes(scores.to_bytes())
    Scores.from_bytes(path.read_bytes()).evaluation().accuracy
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.reading.evaluate import NUM_CLASSES, Evaluation, evaluation_from_probabilities
from mnist_core.reading.inference import predict_proba
from mnist_core.store.npz_file import read_npz, to_npz

if TYPE_CHECKING:
    from mnist_core.model.loaded_model import LoadedModel

# Small batches: a session's memory arena grows to its largest batch and keeps it.
SCORING_BATCH = 256
FORMAT_VERSION = 1


class ScoresError(ValueError):
    """A scores file that cannot be read (damaged, or from another format)."""


@dataclass(frozen=True, eq=False)
class Scores:
    """How one graph read a labelled test set; `wrong_images[k]` is the image of the
    k-th misread digit, in test-set order."""

    probabilities: np.ndarray  # (N, 10) float16
    predictions: np.ndarray  # (N,) uint8
    labels: np.ndarray  # (N,) uint8
    wrong_images: np.ndarray  # (K, 28, 28) uint8
    graph_sha256: str

    def __post_init__(self) -> None:
        count = len(self.labels)
        if (self.probabilities.shape != (count, NUM_CLASSES) or self.predictions.shape != (count,)
                or not count):
            raise ScoresError(f"scores of {count} digits hold probabilities shaped "
                              f"{self.probabilities.shape} and {self.predictions.shape} "
                              "predictions")
        if self.wrong_images.shape != (int((self.predictions != self.labels).sum()), 28, 28):
            raise ScoresError(f"scores hold {len(self.wrong_images)} images of misread "
                              "digits, not one for each")

    def evaluation(self) -> Evaluation:
        """Accuracy, loss, confusion matrix and per-class figures of these readings."""
        return evaluation_from_probabilities(self.probabilities.astype(np.float32),
                                             self.labels.astype(np.int64),
                                             predictions=self.predictions.astype(np.int64))

    def image(self, index: int) -> np.ndarray:
        """The `(28, 28)` float32 image of test digit `index`, which must be a misread one."""
        wrong = np.flatnonzero(self.predictions != self.labels)
        position = int(np.searchsorted(wrong, index))
        if position >= len(wrong) or wrong[position] != index:
            raise IndexError(f"test digit {index} was read right: its image is not kept")
        return self.wrong_images[position].astype(np.float32) / 255.0

    def to_bytes(self) -> bytes:
        """The `.npz` file's bytes (compressed; no pickled objects)."""
        return to_npz(FORMAT_VERSION, probabilities=self.probabilities,
                      predictions=self.predictions, labels=self.labels,
                      wrong_images=self.wrong_images, graph_sha256=np.array(self.graph_sha256))

    @classmethod
    def from_bytes(cls, data: bytes) -> Scores:
        """Read a scores file's bytes; `ScoresError` if they are no such file."""
        with read_npz(data, FORMAT_VERSION, ScoresError, "scores file") as stored:
            return cls(
                probabilities=stored["probabilities"].astype(np.float16),
                predictions=stored["predictions"].astype(np.uint8),
                labels=stored["labels"].astype(np.uint8),
                wrong_images=stored["wrong_images"].astype(np.uint8),
                graph_sha256=str(stored["graph_sha256"]),
            )


def score_network(network, images: np.ndarray, labels: np.ndarray, *,
                  graph_sha256: str) -> Scores:
    """Read prepared `(N, 28, 28)` test `images` (float in [0, 1]) with `network` (an
    `OnnxNetwork`, a Keras network or a `LoadedModel`) in small batches, and keep what
    the Evaluate page shows."""
    labels = np.asarray(labels)
    if len(labels) != len(images) or not len(labels):
        raise ValueError(f"need as many labels as images (got {len(labels)} and {len(images)})")
    probabilities = np.concatenate([
        predict_proba(network, images[start:start + SCORING_BATCH])
        for start in range(0, len(images), SCORING_BATCH)
    ])
    predictions = probabilities.argmax(axis=1)
    wrong = predictions != labels
    return Scores(
        probabilities=probabilities.astype(np.float16),
        predictions=predictions.astype(np.uint8),
        labels=labels.astype(np.uint8),
        wrong_images=np.rint(np.asarray(images)[wrong] * 255).astype(np.uint8),
        graph_sha256=graph_sha256,
    )


def score_model(model: LoadedModel, test_set: tuple[np.ndarray, np.ndarray]) -> Scores:
    """A stored model's readings of prepared `(images, labels)` through the graph it is
    served with (`registry.open_model`; opened with `memory_arena=False`, the session
    gives its memory back once dropped): for a model stored without them (`python -m
    mnist_core score`, or the web server once)."""
    return score_network(model, *test_set, graph_sha256=model.card.served_graph_sha256)
