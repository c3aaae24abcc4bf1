"""What a Keras network becomes in the model store: a copy without its optimizer state
(the store is for reading, not for training on), and its ONNX graph, which the web
server reads with ONNX Runtime. Keras is imported only here, when a model is saved."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras


def without_optimizer(model: keras.Model) -> keras.Model:
    """A copy with the same weights and no optimizer state."""
    copy = model.__class__.from_config(model.get_config())  # clone_model would compile
    copy.set_weights(model.get_weights())
    return copy


def onnx_graph(network: keras.Model) -> bytes:
    """The network's inference pass as an ONNX graph (Keras' exporter, through tf2onnx):
    one graph for any model, an ensemble's average included, taking `(N, 28, 28)`-like
    float32 images named `images` and giving `(N, 10)` probabilities."""
    import warnings

    import keras

    spec = keras.InputSpec(shape=(None, *network.input_shape[1:]), dtype="float32",
                           name="images")
    with tempfile.TemporaryDirectory(prefix="onnx-export-") as scratch:
        path = Path(scratch) / "model.onnx"
        with warnings.catch_warnings():
            # Keras' tf2onnx patch touches numpy's removed `np.object` alias
            warnings.simplefilter("ignore", FutureWarning)
            network.export(path, format="onnx", verbose=False, input_signature=[spec])
        return path.read_bytes()
