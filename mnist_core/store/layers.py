"""A stored model's layers graph, `<name>.layers.onnx` beside its `.keras` file, opened
for the web server (ONNX Runtime, one thread, no TensorFlow): what shows a drawing's
feature maps. Saves write one (`saving.save_model`); `saving.write_layers_graph` makes
one for a model saved before (`python -m mnist_core layers --name NAME`).

    graph = open_layers(name)  # None: the model has none yet
    if graph is None:
        print(no_layers_graph(name))
"""

from __future__ import annotations

from pathlib import Path

from mnist_core.errors import InvalidModelError, ModelNotFoundError
from mnist_core.model.layers_graph import LAYERS_SUFFIX, LayersGraph
from mnist_core.store import registry


def layers_path(name: str, directory=None) -> Path:
    """Where the model's layers graph is (beside its `.keras` file)."""
    return registry.model_path(name, directory).with_suffix(f"{LAYERS_SUFFIX}.onnx")


def open_layers(name: str | None = None, directory=None) -> LayersGraph | None:
    """The model's layers graph (None: the default model's) opened for reading, or None
    where its card names none (a model saved before models had one: `no_layers_graph`
    says so in words).

    Raises `ModelNotFoundError` if the model is absent, and `InvalidModelError` if its
    card names a layers graph that is missing, damaged or not the one it names (its
    SHA-256 or its outputs differ)."""
    name = registry.default_model_name(directory) if name is None else name
    if not registry.model_exists(name, directory):
        raise ModelNotFoundError(f"no model named {name!r} in the model store")
    entry = registry.read_card(name, directory).layers
    if entry is None:
        return None
    path = layers_path(name, directory)
    if not path.is_file():
        raise InvalidModelError(
            f"model {name!r} has no layers graph {path.name}, though its card names one; "
            f"make it again with `python -m mnist_core layers --name {name}`")
    return LayersGraph(path, entry)


def no_layers_graph(name: str) -> str:
    """Why a model's layers cannot be shown, in words for a visitor."""
    return (f"{name} was saved before models kept a graph of their layers, so what its "
            "layers saw cannot be shown yet; the server's operator can make one with "
            f"`python -m mnist_core layers --name {name}`")
