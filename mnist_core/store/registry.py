"""Where the models are: the shipped ones plus the ones trained here, each a `.keras`
file with a JSON card `<name>.json` and its ONNX graph `<name>.onnx` beside it (and for
some, the default among them, an int8 graph `<name>.int8.onnx` to serve with).

Two folders make one store. The repository's `models/` holds the shipped models and is
read-only to the app: nothing a visitor does can delete or replace them. Models trained
through the app or a worker go to the writable store, `MNIST_MODELS_DIR` (default
`var/models` under the state folder); its cards name the owner that trained them, and
only that owner may delete them. Names are unique across both folders.

Two ways to read a model: `load_model` gives its Keras network (workers: training,
calibration, ensembling), `open_model` its ONNX graph in an onnxruntime session (the
web server and `predict`, without TensorFlow), through the int8 graph where the card
names one, with the reading policy fitted on that graph. `read_scores` gives a model's
readings of the MNIST test set (`<name>.scores.npz`) while they belong to the graph
served. Writing is `mnist_core.store.saving`'s. A damaged or incompatible file raises
`InvalidModelError` for that model only; listing the others still works.

Functions that take `directory` use that one folder alone when it is given (tools and
tests); None means the whole store, shipped and trained.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from mnist_core.errors import (
    InvalidModelError,
    InvalidModelNameError,
    ModelNotFoundError,
    ModelProtectedError,
    OnnxMissingError,
)
from mnist_core.model.card import DIGIT, NUMBER, CardError, ModelCard
from mnist_core.model.layers_graph import LAYERS_SUFFIX
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.model.number_network import NumberNetwork, shape_problem
from mnist_core.model.runtime import OnnxNetwork
from mnist_core.model.verdict import ReadingPolicy
from mnist_core.shared.state import state_dir

if TYPE_CHECKING:
    import keras

    from mnist_core.store.scores import Scores

MODELS_DIR_ENV = "MNIST_MODELS_DIR"
SHIPPED_MODELS_DIR_ENV = "MNIST_SHIPPED_MODELS_DIR"
DEFAULT_SHIPPED_DIR = Path(__file__).resolve().parents[2] / "models"
# The default model: four 24-epoch runs of the drawing-first CNN averaged, else one
# 15-epoch run of its recipe, else (a store without them) the MNIST-only CNN.
DEFAULT_MODEL_NAMES = ("cnn-drawn-all-24ep-x4", "cnn-drawn-all", "cnn")
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# `<name>.int8.onnx` is the int8 graph of `<name>`: no model may be called `<name>.int8`.
INT8_SUFFIX = ".int8"
# `<name>.scores.npz`: the model's readings of the MNIST test set (`mnist_core.store.scores`)
SCORES_SUFFIX = ".scores.npz"


@dataclass(frozen=True)
class ModelInfo:
    """One entry of the store: its name, files and card (empty if the card is missing)."""

    name: str
    path: Path
    card: ModelCard
    card_error: str | None = None
    shipped: bool = False  # from the read-only shipped folder

    @property
    def test_accuracy(self) -> float | None:
        return self.card.test_accuracy

    @property
    def owner(self) -> str | None:
        """The visitor who trained it here (None for shipped and command-line models)."""
        return None if self.shipped else self.card.owner


def shipped_dir() -> Path:
    """The read-only folder of shipped models: `MNIST_SHIPPED_MODELS_DIR`, else `models/`."""
    return Path(os.environ.get(SHIPPED_MODELS_DIR_ENV) or DEFAULT_SHIPPED_DIR)


def trained_dir() -> Path:
    """The writable store for models trained here: `MNIST_MODELS_DIR`, else
    `<state folder>/models`."""
    configured = os.environ.get(MODELS_DIR_ENV)
    return Path(configured) if configured else state_dir() / "models"


def models_dir(path: str | os.PathLike | None = None) -> Path:
    """The folder new models are saved to: `path`, else the writable store."""
    return Path(path) if path is not None else trained_dir()


def _folders(directory) -> list[tuple[Path, bool]]:
    """(folder, shipped?) pairs that `directory` stands for, shipped first."""
    if directory is not None:
        return [(Path(directory), False)]
    shipped, trained = shipped_dir(), trained_dir()
    if shipped.resolve() == trained.resolve():
        return [(shipped, True)]
    return [(shipped, True), (trained, False)]


def is_shipped(name: str) -> bool:
    """Whether `name` is one of the shipped, read-only models."""
    return (shipped_dir() / f"{validate_name(name)}.keras").is_file()


def validate_name(name: str) -> str:
    """Return `name` if it is a safe model name, else raise `InvalidModelNameError`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise InvalidModelNameError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, with no path separators or '..'"
        )
    kept = [suffix for suffix in (INT8_SUFFIX, LAYERS_SUFFIX) if name.lower().endswith(suffix)]
    if kept:  # `<name>.int8.onnx` and `<name>.layers.onnx` are graphs of `<name>`
        raise InvalidModelNameError(f"invalid model name {name!r}: names ending in "
                                    f"{kept[0]!r} are kept for the graphs beside a model")
    return name


def model_path(name: str, directory=None) -> Path:
    """Where the model `name` is (or would be saved: the writable store)."""
    validate_name(name)
    for folder, _ in _folders(directory):
        path = folder / f"{name}.keras"
        if path.is_file():
            return path
    return models_dir(directory) / f"{name}.keras"


def card_path(name: str, directory=None) -> Path:
    return model_path(name, directory).with_suffix(".json")


def onnx_path(name: str, directory=None) -> Path:
    """Where the model's ONNX graph is (beside its `.keras` file)."""
    return model_path(name, directory).with_suffix(".onnx")


def int8_path(name: str, directory=None) -> Path:
    """Where the model's int8 graph is, if it has one (beside its `.keras` file)."""
    return model_path(name, directory).with_suffix(f"{INT8_SUFFIX}.onnx")


def scores_path(name: str, directory=None) -> Path:
    """Where the model's readings of the MNIST test set are (beside its `.keras` file)."""
    return model_path(name, directory).with_suffix(SCORES_SUFFIX)


def model_exists(name: str, directory=None) -> bool:
    return model_path(name, directory).is_file()


class NameHolder(Enum):
    """Who holds a model name in the store, which decides what a visitor may do with it."""

    NOBODY = "nobody"
    SHIPPED = "shipped"  # read-only for everyone
    YOU = "you"  # the asking owner's own model: theirs to replace or delete
    SOMEONE_ELSE = "someone else"  # another visitor's, or one trained from the command line


def name_holder(name: str, owner: str | None, directory=None) -> NameHolder:
    """Who holds `name` in the store, as seen by `owner` (the one place that decides
    the shipped and owner rules). Raises `InvalidModelNameError` for a bad name."""
    validate_name(name)
    if directory is None and is_shipped(name):
        return NameHolder.SHIPPED
    if not model_exists(name, directory):
        return NameHolder.NOBODY
    card_owner = read_card_file(card_path(name, directory)).owner
    return NameHolder.YOU if owner is not None and card_owner == owner else NameHolder.SOMEONE_ELSE


def check_may_replace(name: str, owner: str | None, *, deleting: bool = False,
                      directory=None) -> NameHolder:
    """Raise `ModelProtectedError` unless `owner` may replace (or, `deleting`, delete)
    the model named `name`: a shipped model never, another's never. Returns who holds it."""
    holder = name_holder(name, owner, directory)
    if holder is NameHolder.SHIPPED:
        raise ModelProtectedError(f"{name!r} is a shipped model and cannot be "
                                  + ("deleted" if deleting else "replaced; choose another name"))
    if holder is NameHolder.SOMEONE_ELSE:
        raise ModelProtectedError(f"{name!r} was trained by someone else; "
                                  + ("only they can delete it" if deleting
                                     else "choose another name"))
    return holder


def list_models(directory=None, *, task: str | None = None) -> list[ModelInfo]:
    """Every `.keras` file in the store with its card, sorted by name; with `task`, only
    the models that do that (`card.DIGIT`: read one digit), where a page lists them.

    A missing or unreadable card does not hide the model: `card_error` says why. A
    trained model that has a shipped model's name is hidden by the shipped one.
    """
    found: dict[str, ModelInfo] = {}
    for folder, shipped in _folders(directory):
        if not folder.is_dir():
            continue
        for path in folder.glob("*.keras"):
            name = path.stem
            if not NAME_PATTERN.fullmatch(name) or name in found:
                continue  # temp files of a save in progress start with '.'
            card, error = ModelCard(), None
            try:
                card = read_card_file(path.with_suffix(".json"))
            except InvalidModelError as err:
                error = str(err)
            found[name] = ModelInfo(name, path, card, error, shipped)
    return [found[name] for name in sorted(found) if task in (None, found[name].card.task)]


def default_model_name(directory=None) -> str:
    """The default model: the first of `DEFAULT_MODEL_NAMES` in the store, else the
    best-scoring digit reader there."""
    infos = list_models(directory, task=DIGIT)
    if not infos:
        where = " or ".join(str(folder) for folder, _ in _folders(directory))
        raise ModelNotFoundError(
            f"no models in {where}: train one with `python -m mnist_core train`"
        )
    names = [info.name for info in infos]
    for name in DEFAULT_MODEL_NAMES:
        if name in names:
            return name
    return max(infos, key=lambda info: info.test_accuracy or 0.0).name


def holds_run(name: str, job_id: str, directory=None) -> bool:
    """Whether the store's model `name` is still the one the queued run `job_id` saved:
    False once it is deleted, or replaced by a later run of that name."""
    try:
        return read_card(name, directory).job == job_id and model_exists(name, directory)
    except InvalidModelError:
        return False


def read_card(name: str, directory=None) -> ModelCard:
    """A model's card; an empty one if it has none, `InvalidModelError` if unreadable."""
    return read_card_file(card_path(name, directory))


def read_card_file(path: Path) -> ModelCard:
    if not path.is_file():
        return ModelCard()
    try:
        return ModelCard.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, CardError) as err:
        raise InvalidModelError(f"model card {path} cannot be read: {err}") from err


def load_model(name: str | None = None, directory=None) -> LoadedModel:
    """Load a model's Keras network from the store (None: the default model) and check
    it fits MNIST. This imports TensorFlow: the web server uses `open_model`.

    Raises `ModelNotFoundError` if absent and `InvalidModelError` if the file is damaged
    or the network does not do its card's task (`check_compatible`). The card's
    calibration (`reading`) comes with it as its `policy`; an unreadable card or reading
    leaves the uncalibrated default in force.
    """
    name, path = _existing(name, directory)
    import keras  # here, so that workers and pages that only list models stay light

    try:
        network = keras.saving.load_model(path, compile=False)
    except Exception as err:  # Keras raises many kinds for a damaged zip or config
        raise InvalidModelError(f"model file {path} cannot be loaded: {err}") from err
    card, policy = _card_and_policy(name, directory)
    check_compatible(network, path, card.task)
    return LoadedModel(name, network, card, policy)


def open_model(name: str | None = None, directory=None, *,
               float_graph: bool = False, memory_arena: bool = True) -> LoadedModel:
    """Open a model's ONNX graph from the store (None: the default model) in an
    onnxruntime session, without TensorFlow or Keras: how the web server reads.

    Where the card names an int8 graph, that one is opened, with the reading policy
    fitted on it; `float_graph=True` opens the float graph, which gives the Keras
    network's own probabilities. `memory_arena=False` gives a session that returns what
    a batch needed (`OnnxNetwork`), for reading one large set.

    Raises `ModelNotFoundError` if the model is absent, `OnnxMissingError` (an
    `InvalidModelError`) if it has no `.onnx` file or its card holds no checksum for
    it (a model saved before models were exported: `python -m mnist_core export NAME`
    makes one), and `InvalidModelError` if the file is damaged, is not the one its card
    names, or does not map 28x28 images to 10 classes (a number reader's, its images of
    a number to steps: `NumberNetwork`).
    """
    name, path = _existing(name, directory)
    card, policy = _card_and_policy(name, directory)
    graph, sha256, policy = _served_graph(name, path, card, policy, float_graph)
    session = NumberNetwork if card.task == NUMBER else OnnxNetwork
    network = session(graph, sha256=sha256, memory_arena=memory_arena)
    return LoadedModel(name, network, card, policy)


def check_model(name: str, directory=None) -> None:
    """Raise as `open_model` would where a model cannot be read with, keeping nothing
    open: listing the store holds no model's session (nor its memory arena)."""
    open_model(name, directory, memory_arena=False)


def _served_graph(name: str, path: Path, card: ModelCard, policy: ReadingPolicy,
                  float_graph: bool) -> tuple[Path, str | None, ReadingPolicy]:
    """The graph `open_model` reads the model through, the SHA-256 its card gives it and
    the reading policy that goes with it: the int8 graph's own where the card names one."""
    if card.int8 and not float_graph:
        graph = path.with_suffix(f"{INT8_SUFFIX}.onnx")
        if not graph.is_file():
            raise InvalidModelError(
                f"model {name!r} has no int8 graph {graph.name}, though its card names one; "
                f"make it again with `python -m mnist_core quantize {name}`"
            )
        try:
            policy = card.int8.policy
        except ValueError as err:
            raise InvalidModelError(f"model {name!r}: its card's int8 entry cannot be read: "
                                    f"{err}") from err
        return graph, card.int8.onnx_sha256, policy
    graph = path.with_suffix(".onnx")
    if not graph.is_file() or not card.onnx_sha256:
        missing = "no ONNX file" if not graph.is_file() else "no ONNX checksum on its card"
        raise OnnxMissingError(
            f"model {name!r} has {missing} (it was saved before models were exported); "
            f"make one with `python -m mnist_core export {name}`"
        )
    return graph, card.onnx_sha256, policy


def _existing(name: str | None, directory) -> tuple[str, Path]:
    """The model's name (None: the default's) and its `.keras` path, which must exist."""
    name = default_model_name(directory) if name is None else name
    path = model_path(name, directory)
    if not path.is_file():
        known = ", ".join(info.name for info in list_models(directory)) or "none"
        raise ModelNotFoundError(f"no model named {name!r} in {path.parent} (have: {known})")
    return name, path


def _card_and_policy(name: str, directory) -> tuple[ModelCard, ReadingPolicy]:
    """The model's card and reading policy; an unreadable card or reading leaves the
    uncalibrated default in force."""
    card, policy = ModelCard(name=name), ReadingPolicy()
    with contextlib.suppress(InvalidModelError, ValueError, TypeError):
        card = read_card(name, directory)
        policy = card.policy
    return card, policy


def check_compatible(model: keras.Model, source: object = "model", task: str = DIGIT) -> None:
    """Raise `InvalidModelError` unless the model maps 28x28 images to 10 classes (for
    `task` NUMBER: a number's image to steps; `number_network.shape_problem`)."""
    try:
        input_shape = tuple(model.input_shape[1:])
        output_shape = tuple(model.output_shape[1:])
    except (AttributeError, ValueError) as err:
        raise InvalidModelError(f"{source} has no single input and output: {err}") from err
    if problem := shape_problem(input_shape, output_shape, task):
        raise InvalidModelError(f"{source} {problem}")


def read_scores(name: str, directory=None) -> Scores | None:
    """The model's stored readings of the MNIST test set, or None where it has none or
    they were made by another graph than the one served (stale: `write_scores` remakes
    them). Raises `InvalidModelError` for a damaged file."""
    path = scores_path(name, directory)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        raise InvalidModelError(f"test readings {path} cannot be read: {err}") from err
    from mnist_core.store.scores import Scores, ScoresError

    try:
        scores = Scores.from_bytes(data)
    except ScoresError as err:
        raise InvalidModelError(f"test readings {path} cannot be read: {err}") from err
    return scores if scores.graph_sha256 == read_card(name, directory).served_graph_sha256 \
        else None

