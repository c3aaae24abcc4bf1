"""Writing to the model store: a model saved with its ONNX graph, card and test readings
in one atomic save, an int8 graph, readings or a neighbour index added to a stored model,
a card replaced, a model removed with everything beside it. Where models are and who
may replace them is `registry`'s; this module only writes.

Saves are atomic (write a temp file in the same folder, then rename), so a crash or
a cut-off training run leaves the previous model whole. Without `directory`, shipped
models are refused like any change to them.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_core.errors import InvalidModelError, ModelNotFoundError, ModelProtectedError
from mnist_core.model.card import NUMBER, Int8Entry, LayersEntry, ModelCard
from mnist_core.model.layers_graph import LAYERS_SUFFIX
from mnist_core.model.runtime import OnnxNetwork
from mnist_core.store import export, registry
from mnist_core.store.neighbours import NEIGHBOURS_SUFFIX

if TYPE_CHECKING:
    import keras
    import numpy as np

    from mnist_core.store.neighbours import NeighbourIndex
    from mnist_core.store.scores import Scores


def save_model(
    model: keras.Model, name: str, card: ModelCard, *, directory=None, overwrite: bool = False,
    test_set: tuple[np.ndarray, np.ndarray] | None = None,
) -> Path:
    """Write `<name>.keras`, its ONNX graph `<name>.onnx`, its layers graph
    `<name>.layers.onnx` (`export.layers_graph`) and its card `<name>.json` (with both
    graphs' SHA-256) atomically; returns the model's path. With `test_set`,
    prepared `(images, labels)`, the graph's readings of it `<name>.scores.npz` are
    written with them; without, the previous model's readings go.

    All three are written in full before any replaces anything, and the card lands
    first, then the graph: the store lists models by their `.keras` file, so a model is
    never seen without its card and graph, and a failed save (an export that fails
    included) leaves the previous model, graph and card as they were.

    Without `directory` the model goes to the writable store, and a shipped model's
    name is refused (`ModelProtectedError`). The optimizer state is left out (the store
    is for inference and comparison), which keeps files to a third of the size.

    A whole-number reader (`card.task` NUMBER) is saved without a layers graph and
    without test readings (`test_set` must be None): both are for digit readers, whose
    pages show one digit's layers and the MNIST test set's confusions.
    """
    registry.check_compatible(model, f"model {name!r}", card.task)
    if card.task == NUMBER and test_set is not None:
        raise ValueError(f"model {name!r} reads whole numbers: it has no readings of "
                         "MNIST test digits to save")
    if directory is None and registry.is_shipped(name):
        raise ModelProtectedError(
            f"{name!r} is a shipped model and cannot be replaced; choose another name"
        )
    target = registry.models_dir(directory) / f"{registry.validate_name(name)}.keras"
    if target.exists() and not overwrite:
        raise FileExistsError(f"a model named {name!r} already exists")
    target.parent.mkdir(parents=True, exist_ok=True)
    network = export.without_optimizer(model)
    layers_files, layers = (), None
    if card.task != NUMBER:
        layers_file, layers = _layers_file(target, network)
        layers_files = (layers_file,)
    # an int8 graph belongs to the weights it was made from: the new ones have none
    card_file, graph_file, graph = _card_and_graph(
        target, card.replace(name=name, int8=None, layers=layers), network)
    scores = _scores_file(target, graph, test_set)
    _atomic_write(card_file, graph_file, *layers_files, *scores, (target, network.save))
    if not layers_files:  # a layers graph left from an earlier model of that name
        target.with_suffix(f"{LAYERS_SUFFIX}.onnx").unlink(missing_ok=True)
    target.with_suffix(f"{registry.INT8_SUFFIX}.onnx").unlink(missing_ok=True)
    target.with_suffix(NEIGHBOURS_SUFFIX).unlink(missing_ok=True)  # the old weights' index
    if not scores:
        target.with_suffix(registry.SCORES_SUFFIX).unlink(missing_ok=True)
    return target


def export_onnx(name: str, directory=None) -> Path:
    """Export a stored model's Keras network to `<name>.onnx` and put the graph's
    SHA-256 on its card, atomically (card first): for a model saved before every save
    exported one. Returns the graph's path. Without `directory`, a shipped model is
    refused like any change to it."""
    path = _changeable(name, directory)
    card = registry.read_card_file(path.with_suffix(".json")).replace(name=name)
    network = registry.load_model(name, path.parent).network
    card_file, graph_file, _ = _card_and_graph(path, card, network)
    _atomic_write(card_file, graph_file)
    return path.with_suffix(".onnx")


def _card_and_graph(target: Path, card: ModelCard, network: keras.Model) -> tuple:
    """The `_atomic_write` pairs of a model's card (with its graph's SHA-256) and its
    ONNX graph, card first, and the graph's bytes."""
    graph = export.onnx_graph(network)
    text = json.dumps(card.replace(onnx_sha256=hashlib.sha256(graph).hexdigest()).to_json(),
                      indent=1)
    return ((target.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text, "utf-8")),
            (target.with_suffix(".onnx"), lambda tmp: Path(tmp).write_bytes(graph)), graph)


def _layers_file(target: Path, network: keras.Model) -> tuple[tuple, LayersEntry]:
    """The `_atomic_write` pair of the layers graph of the model at `target`, and its
    card entry."""
    graph, entry = export.layers_graph(network)
    entry = dataclasses.replace(entry, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return ((target.with_suffix(f"{LAYERS_SUFFIX}.onnx"),
             lambda tmp: Path(tmp).write_bytes(graph)), entry)


def write_layers_graph(name: str, directory=None) -> ModelCard:
    """Make a stored model's layers graph `<name>.layers.onnx` from its Keras network
    and put its entry on the card, atomically (graph first), for a model saved before
    saves wrote one; returns the new card. Without `directory`, a shipped model is
    refused like any change to it."""
    path = _changeable(name, directory)
    if registry.read_card_file(path.with_suffix(".json")).task == NUMBER:
        raise InvalidModelError(f"model {name!r} reads whole numbers: a layers graph shows "
                                "one digit's layers, so it has none")
    network = registry.load_model(name, path.parent).network
    layers_file, entry = _layers_file(path, network)
    card = registry.read_card_file(path.with_suffix(".json")).replace(name=name, layers=entry)
    text = json.dumps(card.to_json(), indent=1)
    _atomic_write(layers_file,
                  (path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text, "utf-8")))
    return card


def _scores_file(target: Path, graph: bytes, test_set) -> tuple:
    """The `_atomic_write` pair of the readings of `test_set` by `graph` (the one the
    model at `target` will be served through), or none without a test set."""
    if test_set is None:
        return ()
    from mnist_core.store.scores import score_network

    sha256 = hashlib.sha256(graph).hexdigest()
    data = score_network(OnnxNetwork(target.with_suffix(".onnx"), sha256=sha256, data=graph),
                         *test_set, graph_sha256=sha256).to_bytes()
    return ((target.with_suffix(registry.SCORES_SUFFIX), lambda tmp: Path(tmp).write_bytes(data)),)


def write_int8_graph(name: str, graph: bytes, entry: Int8Entry, directory=None, *,
                     test_set: tuple[np.ndarray, np.ndarray] | None = None) -> ModelCard:
    """Store a model's int8 graph `<name>.int8.onnx` and its card's `int8` entry (the
    graph's SHA-256 among it) atomically, graph first, with its readings of `test_set`
    where given (the float graph's no longer describe what is served); returns the new
    card. Without `directory`, a shipped model is refused like any change to it."""
    path = _changeable(name, directory)
    card = registry.read_card_file(path.with_suffix(".json")).replace(name=name, int8=entry)
    text = json.dumps(card.to_json(), indent=1)
    _atomic_write(
        (path.with_suffix(f"{registry.INT8_SUFFIX}.onnx"),
         lambda tmp: Path(tmp).write_bytes(graph)),
        *_scores_file(path, graph, test_set),
        (path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text, "utf-8")),
    )
    return card


def write_scores(name: str, scores: Scores, directory=None) -> Path:
    """Store readings of the MNIST test set for a model saved without them, atomically.
    Without `directory`, a shipped model is refused like any change to it."""
    path = _changeable(name, directory).with_suffix(registry.SCORES_SUFFIX)
    data = scores.to_bytes()
    _atomic_write((path, lambda tmp: Path(tmp).write_bytes(data)))
    return path


def write_neighbours(name: str, index: NeighbourIndex, directory=None) -> Path:
    """Store a model's neighbour index `<name>.neighbours.npz` atomically. Refused
    (`InvalidModelError`) where the model's graph is no longer the one the index was
    built from (replaced while it was built); without `directory`, a shipped model is
    refused like any change to it."""
    path = _changeable(name, directory)
    if registry.read_card_file(path.with_suffix(".json")).onnx_sha256 != index.graph_sha256:
        raise InvalidModelError(f"model {name!r} was replaced while its index was built; "
                                "the index was not saved")
    target, data = path.with_suffix(NEIGHBOURS_SUFFIX), index.to_bytes()
    _atomic_write((target, lambda tmp: Path(tmp).write_bytes(data)))
    return target


def _changeable(name: str, directory) -> Path:
    """The `.keras` path of a stored model that may be changed (shipped ones only
    through their own folder)."""
    if directory is None and registry.is_shipped(name):
        raise ModelProtectedError(f"{name!r} is a shipped model and cannot be changed")
    path = registry.models_dir(directory) / f"{registry.validate_name(name)}.keras"
    if not path.is_file():
        raise ModelNotFoundError(f"no model named {name!r} in {path.parent}")
    return path


def write_card(name: str, card: ModelCard, directory=None) -> None:
    """Replace a model's card atomically (the model file stays as it is). Without
    `directory`, a shipped model's card is refused like the model itself."""
    path = _changeable(name, directory)
    text = json.dumps(card.replace(name=name).to_json(), indent=1)
    _atomic_write((path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(text, "utf-8")))


def delete_model(name: str, directory=None, *, owner: str | None = None) -> None:
    """Remove a model, its ONNX graphs, its test readings, its neighbour index and its
    card from the store.

    Shipped models are never deleted (`ModelProtectedError`). With `owner`, only a
    model whose card names that owner may go: a visitor deletes only their own.
    """
    if directory is None and registry.is_shipped(name):
        raise ModelProtectedError(f"{name!r} is a shipped model and cannot be deleted")
    path = registry.models_dir(directory) / f"{registry.validate_name(name)}.keras"
    if not path.is_file():
        raise ModelNotFoundError(f"no model named {name!r} in {path.parent}")
    if owner is not None:
        registry.check_may_replace(name, owner, deleting=True, directory=directory)
    path.unlink()
    path.with_suffix(".onnx").unlink(missing_ok=True)
    path.with_suffix(f"{registry.INT8_SUFFIX}.onnx").unlink(missing_ok=True)
    path.with_suffix(f"{LAYERS_SUFFIX}.onnx").unlink(missing_ok=True)
    path.with_suffix(registry.SCORES_SUFFIX).unlink(missing_ok=True)
    path.with_suffix(NEIGHBOURS_SUFFIX).unlink(missing_ok=True)
    path.with_suffix(".json").unlink(missing_ok=True)


def store_problem(err: OSError, directory=None) -> str | None:
    """What an `OSError` means if it is the model store refusing a write, in words for
    a visitor with no path, temp file or errno (those are for the server log); None if
    it is something else (a file elsewhere, a download)."""
    if err.filename is not None and not Path(err.filename).resolve().is_relative_to(
        registry.models_dir(directory).resolve()
    ):
        return None
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the model store is full"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "the model store cannot be written"
    return None


def _atomic_write(*files: tuple[Path, object]) -> None:
    """For each `(target, write)`, call `write(tmp_path)` on a temp file beside `target`;
    when every one is written, rename them over their targets in the order given. A
    failed write (a full disk) leaves every target as it was."""
    written: list[tuple[str, Path]] = []
    try:
        for target, write in files:
            fd, tmp = tempfile.mkstemp(
                prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent
            )
            os.close(fd)
            written.append((tmp, target))
            write(tmp)
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the store is shared
        for tmp, target in written:
            os.replace(tmp, target)
    except BaseException:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        raise
