"""What a Keras network becomes in the model store: a copy without its optimizer state
(the store is for reading, not for training on), and its ONNX graph, which the web
server reads with ONNX Runtime. Keras is imported only here, when a model is saved.

The graph gives named outputs, `runtime.OUTPUTS` in order: `probabilities` `(N, 10)`
first (so `session.run(None, ...)[0]` is what it always was), then `features`, the
activations the class-score layer reads (for an ensemble, each run's side by side).
The Keras network itself keeps its one output; only the graph gains the others."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_core.model.runtime import OUTPUTS

if TYPE_CHECKING:
    import keras


def without_optimizer(model: keras.Model) -> keras.Model:
    """A copy with the same weights and no optimizer state."""
    copy = model.__class__.from_config(model.get_config())  # clone_model would compile
    copy.set_weights(model.get_weights())
    return copy


def with_features(network: keras.Model) -> keras.Model:
    """The network with a second output: the activations its class-score layer (its last
    `Dense`) reads. An ensemble (runs averaged, `ensemble.average_model`) is rebuilt with
    each run giving both, so every run is computed once: its probabilities averaged as
    before, its features side by side."""
    import keras

    runs = [layer for layer in network.layers if isinstance(layer, keras.Model)]
    if runs:
        if not isinstance(network.layers[-1], keras.layers.Average):
            raise ValueError(f"{network.name!r} holds networks but does not average them: "
                             "no features to give")
        image = keras.Input(network.input_shape[1:], name="images")
        outputs = [with_features(run)(image) for run in runs]
        probabilities = keras.layers.Average(name="probabilities")([p for p, _ in outputs])
        features = keras.layers.Concatenate(name="features")([f for _, f in outputs])
        return keras.Model(image, [probabilities, features], name=network.name)
    dense = [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)]
    if not dense:
        raise ValueError(f"{network.name!r} has no Dense class-score layer")
    return keras.Model(network.input, [network.output, dense[-1].input],
                       name=network.name)


def onnx_graph(network: keras.Model) -> bytes:
    """The network's inference pass as an ONNX graph (Keras' exporter, through tf2onnx):
    one graph for any model, an ensemble's average included, taking `(N, 28, 28)`-like
    float32 images named `images` and giving `probabilities` `(N, 10)` and `features`
    `(N, d)` (`with_features`)."""
    import warnings

    import keras

    spec = keras.InputSpec(shape=(None, *network.input_shape[1:]), dtype="float32",
                           name="images")
    with tempfile.TemporaryDirectory(prefix="onnx-export-") as scratch:
        path = Path(scratch) / "model.onnx"
        with warnings.catch_warnings():
            # Keras' tf2onnx patch touches numpy's removed `np.object` alias
            warnings.simplefilter("ignore", FutureWarning)
            with_features(network).export(path, format="onnx", verbose=False,
                                           input_signature=[spec])
        return named_outputs(path.read_bytes(), OUTPUTS)


def named_outputs(graph: bytes, names: tuple[str, ...]) -> bytes:
    """`graph` with its outputs renamed, in order, to `names` (the exporter calls them
    `Identity:0`, `Identity_1:0`, ...)."""
    import onnx

    model = onnx.load_from_string(graph)
    if len(model.graph.output) != len(names):
        raise ValueError(f"the graph gives {len(model.graph.output)} outputs, "
                         f"expected {len(names)}: {', '.join(names)}")
    renamed = {output.name: name for output, name in zip(model.graph.output, names)}
    for node in model.graph.node:
        node.input[:] = [renamed.get(tensor, tensor) for tensor in node.input]
        node.output[:] = [renamed.get(tensor, tensor) for tensor in node.output]
    for value in [*model.graph.output, *model.graph.value_info]:
        value.name = renamed.get(value.name, value.name)
    return model.SerializeToString()
