"""What a Keras network becomes in the model store: a copy without its optimizer state
(the store is for reading, not for training on), and its ONNX graph, which the web
server reads with ONNX Runtime. Keras is imported only here, when a model is saved.

The graph gives named outputs, `runtime.OUTPUTS` in order: `probabilities` `(N, 10)`
first (so `session.run(None, ...)[0]` is what it always was), then `features`, the
activations the class-score layer reads (for an ensemble, each run's side by side).
The Keras network itself keeps its one output; only the graph gains the others.

Beside it, the layers graph (`layers_graph`, `<name>.layers.onnx`) gives those two and
what each convolution and hidden dense layer saw, for one network: the model, or an
ensemble's first run (the web server shows a drawing's feature maps from one pass of it)."""

from __future__ import annotations

import hashlib
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_core.model.card import LayerOutput, LayersEntry
from mnist_core.model.layers_graph import CONV, DENSE, THE_MODEL, ensemble_run_label
from mnist_core.model.runtime import FEATURES, OUTPUTS, PROBABILITIES

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
    return _exported(with_features(network), OUTPUTS)


def _exported(network: keras.Model, names: tuple[str, ...]) -> bytes:
    """`network` exported to ONNX, its input named `images`, its outputs `names` in order."""
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
        return named_outputs(path.read_bytes(), names)


def layers_graph(network: keras.Model) -> tuple[bytes, LayersEntry]:
    """The layers graph of a model's network (an ensemble's: its first run's, `run_1`)
    and the card entry that describes it (without the time it was made). Its outputs:
    `probabilities`, `features` (`with_features`), then for each convolution and each
    hidden dense layer, in the network's order, its activations (`activated`), named
    after the Keras layer: `(N, H, W, C)` for a convolution, channels last as Keras
    computes them, `(N, units)` for a dense layer."""
    import keras

    label = THE_MODEL
    runs = [layer for layer in network.layers if isinstance(layer, keras.Model)]
    if runs:
        label = ensemble_run_label(len(runs))
        network = network.get_layer("run_1") if "run_1" in [r.name for r in runs] else runs[0]
    shown = with_features(network)
    outputs = [LayerOutput(PROBABILITIES, PROBABILITIES, [10]),
               LayerOutput(FEATURES, FEATURES, _shape(shown.outputs[1]))]
    tensors = list(shown.outputs)
    dense = [layer for layer in network.layers if isinstance(layer, keras.layers.Dense)]
    for index, layer in enumerate(network.layers):
        if isinstance(layer, keras.layers.Conv2D):
            kind = CONV
        elif isinstance(layer, keras.layers.Dense) and layer is not dense[-1]:
            kind = DENSE
        else:
            continue
        tensor = activated(network.layers, index)
        tensors.append(tensor)
        outputs.append(LayerOutput(_output_name(layer.name, outputs), kind, _shape(tensor)))
    graph = _exported(keras.Model(network.input, tensors, name=network.name),
                      tuple(output.name for output in outputs))
    return graph, LayersEntry(onnx_sha256=hashlib.sha256(graph).hexdigest(), network=label,
                              outputs=outputs)


# What completes a convolution or dense layer written without a built-in activation:
# its batch normalisation, then its activation layer (the default CNN's `Conv2D`,
# `BatchNormalization`, `ReLU`).
_NORMALISATIONS = ("BatchNormalization", "LayerNormalization")
_ACTIVATIONS = ("ReLU", "Activation", "LeakyReLU", "ELU", "PReLU", "Softmax")


def activated(layers: list, index: int):
    """The Keras tensor that holds `layers[index]`'s activations after its activation
    function: its own output where it has one built in, else the output of the
    normalisation and activation layers that directly follow it in the chain."""
    current = layers[index]
    if getattr(current.activation, "__name__", "linear") != "linear":
        return current.output
    for following in layers[index + 1:]:
        if following.input is not current.output:
            break  # not fed by it: no longer its chain
        name = type(following).__name__
        if name in _NORMALISATIONS:
            current = following
        elif name in _ACTIVATIONS:
            return following.output
        else:
            break
    return current.output


def _shape(tensor) -> list[int]:
    """A Keras tensor's shape for one image."""
    return [int(size) for size in tensor.shape[1:]]


def _output_name(layer_name: str, taken: list[LayerOutput]) -> str:
    """A layer's name as an output's: letters, digits, '_', '.' and '-' only, and none
    already given (a layer called `features` is shown as `features_layer`)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", layer_name) or "layer"
    while name in {output.name for output in taken}:
        name += "_layer"
    return name


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
