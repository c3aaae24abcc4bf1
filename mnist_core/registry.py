"""The model store: `models/<name>.keras` plus a JSON card `models/<name>.json`.

Saves are atomic (write a temp file in the same folder, then rename), so a crash or
a cut-off training run leaves the previous model whole. A damaged or incompatible file
raises `InvalidModelError` for that model only; listing the others still works.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import keras

from mnist_core.errors import InvalidModelError, InvalidModelNameError, ModelNotFoundError

MODELS_DIR_ENV = "MNIST_MODELS_DIR"
DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
DEFAULT_MODEL_NAME = "cnn"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
ACCEPTED_INPUT_SHAPES = ((28, 28), (28, 28, 1), (784,))


@dataclass(frozen=True)
class ModelInfo:
    """One entry of the store: its name, files and card (empty if the card is missing)."""

    name: str
    path: Path
    card: dict
    card_error: str | None = None

    @property
    def test_accuracy(self) -> float | None:
        return self.card.get("test_accuracy")


def models_dir(path: str | os.PathLike | None = None) -> Path:
    """The store's folder: `path`, else `MNIST_MODELS_DIR`, else the repository's `models/`."""
    if path is not None:
        return Path(path)
    return Path(os.environ.get(MODELS_DIR_ENV) or DEFAULT_MODELS_DIR)


def validate_name(name: str) -> str:
    """Return `name` if it is a safe model name, else raise `InvalidModelNameError`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or ".." in name:
        raise InvalidModelNameError(
            f"invalid model name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit, with no path separators or '..'"
        )
    return name


def model_path(name: str, directory=None) -> Path:
    return models_dir(directory) / f"{validate_name(name)}.keras"


def card_path(name: str, directory=None) -> Path:
    return models_dir(directory) / f"{validate_name(name)}.json"


def model_exists(name: str, directory=None) -> bool:
    return model_path(name, directory).is_file()


def list_models(directory=None) -> list[ModelInfo]:
    """Every `.keras` file in the store with its card, sorted by name.

    A missing or unreadable card does not hide the model: `card_error` says why.
    """
    folder = models_dir(directory)
    if not folder.is_dir():
        return []
    infos = []
    for path in sorted(folder.glob("*.keras"), key=lambda p: p.stem):
        name = path.stem
        if not NAME_PATTERN.fullmatch(name):
            continue  # temp files of a save in progress start with '.'
        card, error = {}, None
        try:
            card = read_card(name, folder)
        except InvalidModelError as err:
            error = str(err)
        infos.append(ModelInfo(name=name, path=path, card=card, card_error=error))
    return infos


def default_model_name(directory=None) -> str:
    """The default model: `cnn` if present, else the best-scoring model in the store."""
    infos = list_models(directory)
    if not infos:
        raise ModelNotFoundError(
            f"no models in {models_dir(directory)}: train one with "
            "`python -m mnist_core train`"
        )
    names = [info.name for info in infos]
    if DEFAULT_MODEL_NAME in names:
        return DEFAULT_MODEL_NAME
    return max(infos, key=lambda info: info.test_accuracy or 0.0).name


def read_card(name: str, directory=None) -> dict:
    """The JSON card of a model; `{}` if it has none, `InvalidModelError` if unreadable."""
    path = card_path(name, directory)
    if not path.is_file():
        return {}
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise InvalidModelError(f"model card {path} cannot be read: {err}") from err
    if not isinstance(card, dict):
        raise InvalidModelError(f"model card {path} is not a JSON object")
    return card


def load_model(name: str | None = None, directory=None) -> keras.Model:
    """Load a model from the store (None: the default model) and check it fits MNIST.

    Raises `ModelNotFoundError` if absent and `InvalidModelError` if the file is damaged
    or the model does not take 28x28 images and return 10 class probabilities.
    """
    name = default_model_name(directory) if name is None else name
    path = model_path(name, directory)
    if not path.is_file():
        known = ", ".join(info.name for info in list_models(directory)) or "none"
        raise ModelNotFoundError(f"no model named {name!r} in {path.parent} (have: {known})")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as err:  # Keras raises many kinds for a damaged zip or config
        raise InvalidModelError(f"model file {path} cannot be loaded: {err}") from err
    check_compatible(model, path)
    return model


def check_compatible(model: keras.Model, source: object = "model") -> None:
    """Raise `InvalidModelError` unless the model maps 28x28 images to 10 classes."""
    try:
        input_shape = tuple(model.input_shape[1:])
        output_shape = tuple(model.output_shape[1:])
    except (AttributeError, ValueError) as err:
        raise InvalidModelError(f"{source} has no single input and output: {err}") from err
    if input_shape not in ACCEPTED_INPUT_SHAPES:
        raise InvalidModelError(
            f"{source} takes inputs shaped {input_shape}, expected one of "
            f"{ACCEPTED_INPUT_SHAPES} (28x28 images)"
        )
    if output_shape != (10,):
        raise InvalidModelError(
            f"{source} gives outputs shaped {output_shape}, expected (10,) class scores"
        )


def save_model(
    model: keras.Model, name: str, card: dict, *, directory=None, overwrite: bool = False
) -> Path:
    """Write `<name>.keras` and `<name>.json` atomically; returns the model's path.

    The optimizer state is left out (the store is for inference and comparison), which
    keeps files to a third of the size.
    """
    check_compatible(model, f"model {name!r}")
    target = model_path(name, directory)
    if target.exists() and not overwrite:
        raise FileExistsError(f"a model named {name!r} already exists in {target.parent}")
    target.parent.mkdir(parents=True, exist_ok=True)
    card = dict(card, name=name)
    _atomic_write(target, lambda tmp: _strip_optimizer(model).save(tmp))
    _atomic_write(
        card_path(name, directory),
        lambda tmp: Path(tmp).write_text(json.dumps(card, indent=1), encoding="utf-8"),
    )
    return target


def delete_model(name: str, directory=None) -> None:
    """Remove a model and its card from the store."""
    path = model_path(name, directory)
    if not path.is_file():
        raise ModelNotFoundError(f"no model named {name!r} in {path.parent}")
    path.unlink()
    card_path(name, directory).unlink(missing_ok=True)


def _strip_optimizer(model: keras.Model) -> keras.Model:
    """A copy with the same weights and no optimizer state."""
    copy = model.__class__.from_config(model.get_config())  # clone_model would compile
    copy.set_weights(model.get_weights())
    return copy


def _atomic_write(target: Path, write) -> None:
    """Call `write(tmp_path)` on a temp file beside `target`, then rename it over."""
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent
    )
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the store is shared
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
