"""A model's layers graph, `<name>.layers.onnx`, read with ONNX Runtime: the network (an
ensemble's first run) with what each of its layers saw as further named outputs, so the
web server can show a drawing's feature maps without TensorFlow.

    graph = LayersGraph(path, card.layers)
    probabilities = graph(images)  # (N, 28, 28) -> (N, 10), this network's own
    found = graph.outputs(images, *graph.layer_names)  # name -> (N, H, W, C) or (N, units)

Its outputs, in order (`export.layers_graph` writes them, the card's `LayersEntry` lists
them with their shapes): `probabilities`, `features`, then one per convolution layer,
named after the Keras layer, holding its activations after the batch normalisation and
activation function that complete it, channels last (`(N, H, W, C)`, as Keras computes
them), and one per hidden dense layer (`(N, units)`, after its activation likewise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mnist_core.errors import InvalidModelError
from mnist_core.model.card import LayersEntry
from mnist_core.model.runtime import INTRA_OP_THREADS, OnnxNetwork

# `<name>.layers.onnx` is the layers graph of `<name>`: no model may be called `<name>.layers`.
LAYERS_SUFFIX = ".layers"
CONV, DENSE = "conv", "dense"  # the kinds of output that show a layer
THE_MODEL = "the model"  # the network a single model's layers graph shows


def ensemble_run_label(runs: int) -> str:
    """Which network an ensemble's layers graph shows, in words: its first run."""
    return f"run 1 of {runs}"


class LayersGraph:
    """A stored model's layers graph in an onnxruntime session (1 thread, as the web
    server reads), checked against its card's `layers` entry: the file's SHA-256, and
    the outputs' names in order (`InvalidModelError` for either). Calling it gives this
    network's `(N, 10)` probabilities; `outputs` any of its named outputs in one pass."""

    def __init__(self, path: str | Path, entry: LayersEntry, *,
                 intra_op_threads: int = INTRA_OP_THREADS) -> None:
        self.entry = entry
        self.network = OnnxNetwork(path, sha256=entry.onnx_sha256,
                                   intra_op_threads=intra_op_threads)
        listed = tuple(output.name for output in entry.outputs or ())
        if self.network.output_names != listed:
            raise InvalidModelError(
                f"layers graph {path} gives outputs {list(self.network.output_names)}, but "
                f"its card lists {list(listed)}: it is not this model's layers graph")

    @property
    def label(self) -> str:
        """Which network it shows: "the model", or for an ensemble "run 1 of 4"."""
        return self.entry.network or THE_MODEL

    @property
    def layers(self) -> list:
        """The card's entries of the outputs that show a layer (`LayerOutput`s, kind
        `conv` or `dense`), in the network's order."""
        return [output for output in self.entry.outputs if output.kind in (CONV, DENSE)]

    @property
    def layer_names(self) -> tuple[str, ...]:
        return tuple(output.name for output in self.layers)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """This network's `(N, 10)` probabilities for `(N, 28, 28)` float32 images."""
        return self.network(images)

    def outputs(self, images: np.ndarray, *names: str) -> dict[str, np.ndarray]:
        """The named outputs (all if none are named) for `(N, 28, 28)` float32 images,
        computed in one pass."""
        return self.network.outputs(images, *names)

    def __repr__(self) -> str:
        return f"LayersGraph({str(self.network.path)!r}, {self.label!r})"
