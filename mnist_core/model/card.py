"""A model's card: what it is, how it was trained and how it scored, stored as JSON
beside its `.keras` and `.onnx` files. Training, ensembling and distilling write one,
everything else reads it, always through `ModelCard`, so a field has one name and one
type everywhere; its nested entries are typed too (`Reading`, `Int8Entry`, `LayersEntry`,
`History`, `Member`), each read and written by its own `from_json`/`to_json`.

A card says what its model does (`task`): most read one digit (`DIGIT`), which a card
written before the field existed is taken to do; a whole-number reader (`NUMBER`) reads
a written number at once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mnist_core.model.verdict import DEFAULT_MIN_PROBABILITY, ReadingPolicy

DIGIT = "digit"  # the task of a model that gives ten probabilities for one digit
NUMBER = "number"  # ... of one that reads a whole written number (`model.number_network`)
ENSEMBLE = "ensemble"  # the architecture named on an ensemble's card

# A card's fields in the order they are written, each with the JSON types it may hold.
_TYPES: dict[str, tuple[type, ...]] = {
    "architecture": (str,), "task": (str,), "description": (str,), "activation": (str,),
    "params": (int,), "hyperparameters": (dict,), "history": (dict,), "members": (list,),
    "epochs_run": (int,), "best_epoch": (int,), "stopped_early": (bool,),
    "train_accuracy": (float, int), "val_accuracy": (float, int),
    "test_accuracy": (float, int), "val_negative_log_likelihood": (float, int),
    "training_seconds": (float, int), "train_images": (int,), "val_images": (int,),
    "test_images": (int,), "trained_on": (str,), "pen_writers": (list,),
    "preprocess_version": (str,), "versions": (dict,), "created": (str,), "name": (str,),
    "owner": (str,), "job": (str,), "reading": (dict,), "onnx_sha256": (str,),
    "distillation": (dict,), "int8": (dict,), "layers": (dict,),
}
_NUMBER = (float, int)


class CardError(ValueError):
    """A card whose JSON is not an object, or holds a field of the wrong type."""


def _split(data: object, types: dict[str, tuple[type, ...]], what: str) -> tuple[dict, dict]:
    """The fields of a JSON object that `types` knows, type-checked, and the others."""
    if not isinstance(data, dict):
        raise CardError(f"{what} must be a JSON object, not {data!r:.60}")
    known, extra = {}, {}
    for key, value in data.items():
        if key not in types:
            extra[key] = value
            continue
        if value is not None and (
            not isinstance(value, types[key])
            or (isinstance(value, bool) and bool not in types[key])
        ):
            raise CardError(f"{what}'s {key!r} is {value!r:.60}, "
                            f"not a {types[key][0].__name__}")
        known[key] = value
    return known, extra


class _Entry:
    """A typed entry of a card: `TYPES` gives its JSON fields, in the order they are
    written; fields it does not know are kept in `extra` and written back unchanged."""

    TYPES: dict[str, tuple[type, ...]] = {}
    WHAT = "an entry"

    @classmethod
    def from_json(cls, data: object):
        known, extra = _split(data, cls.TYPES, cls.WHAT)
        return cls(**known, extra=extra)

    def to_json(self) -> dict:
        """The JSON object to store: the fields that are set, then the unknown ones."""
        data = {}
        for key in self.TYPES:
            value = getattr(self, key)
            if value is not None:
                data[key] = value.to_json() if isinstance(value, _Entry) else value
        return data | self.extra

    @classmethod
    def of(cls, value):
        """`value` as this entry: itself, read from its JSON object, or None."""
        return value if value is None or isinstance(value, cls) else cls.from_json(value)


@dataclass(frozen=True)
class Reading(_Entry):
    """A card's `reading`: the reading policy (temperature, "not sure" threshold), the
    share of named digits it was fitted to get right, on what, and what it did on
    held-out sets (label -> figures, as `calibration.calibrate_model` reports them)."""

    TYPES = {"temperature": _NUMBER, "min_probability": _NUMBER, "target": _NUMBER,
             "fitted_on": (str,), "held_out": (dict,)}
    WHAT = "the card's reading"

    temperature: float | None = None
    min_probability: float | None = None
    target: float | None = None
    fitted_on: str | None = None
    held_out: dict[str, dict] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fitted(cls, policy: ReadingPolicy, fitted_on: str, target: float,
               held_out: dict[str, dict] | None = None) -> Reading:
        return cls(policy.temperature, policy.min_probability, target, fitted_on, held_out)

    @property
    def policy(self) -> ReadingPolicy:
        """The policy it holds (the uncalibrated defaults for what it lacks);
        `ValueError` for an out-of-range value."""
        return ReadingPolicy(
            temperature=float(1.0 if self.temperature is None else self.temperature),
            min_probability=float(DEFAULT_MIN_PROBABILITY if self.min_probability is None
                                  else self.min_probability),
        )


@dataclass(frozen=True)
class Int8Entry(_Entry):
    """A card's `int8`: its int8 graph (`mnist_core.training.quantize`), the graph's checksum, the
    reading policy fitted on it, and how it read the recipe's validation digits against
    the float graph."""

    TYPES = {"onnx_sha256": (str,), "reading": (dict,), "val_images": (int,),
             "val_errors": (int,), "float_val_errors": (int,), "changed_readings": (int,),
             "max_difference": _NUMBER, "calibrated_on": (str,), "seconds": _NUMBER,
             "created": (str,)}
    WHAT = "the card's int8 entry"

    onnx_sha256: str | None = None
    reading: Reading | None = None
    val_images: int | None = None
    val_errors: int | None = None
    float_val_errors: int | None = None
    changed_readings: int | None = None
    max_difference: float | None = None
    calibrated_on: str | None = None  # the images that set its int8 ranges, in words
    seconds: float | None = None  # how long quantizing and scoring took
    created: str | None = None  # UTC, ISO 8601
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "reading", Reading.of(self.reading))

    @property
    def policy(self) -> ReadingPolicy:
        return (self.reading or Reading()).policy


@dataclass(frozen=True)
class LayerOutput(_Entry):
    """One named output of a model's layers graph: its name (the Keras layer's), what
    it is (`kind`: probabilities, features, conv, dense) and its shape for one image
    (`[H, W, C]` for a convolution, `[units]` for the rest)."""

    TYPES = {"name": (str,), "kind": (str,), "shape": (list,)}
    WHAT = "a layers graph's output"

    name: str | None = None
    kind: str | None = None
    shape: list[int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LayersEntry(_Entry):
    """A card's `layers`: its layers graph `<name>.layers.onnx` (the network with each
    convolution's and hidden dense layer's activations as outputs, `export.layers_graph`),
    the graph's checksum, which network it shows (`network`: "the model", or for an
    ensemble "run 1 of 4") and its outputs in order."""

    TYPES = {"onnx_sha256": (str,), "network": (str,), "outputs": (list,), "created": (str,)}
    WHAT = "the card's layers entry"

    onnx_sha256: str | None = None
    network: str | None = None
    outputs: list[LayerOutput] | None = None
    created: str | None = None  # UTC, ISO 8601
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.outputs is not None:
            if not isinstance(self.outputs, list):
                raise CardError(f"the layers entry's 'outputs' is {self.outputs!r:.60}, "
                                "not a list")
            object.__setattr__(self, "outputs", [LayerOutput.of(o) for o in self.outputs])

    def to_json(self) -> dict:
        data = super().to_json()
        if self.outputs is not None:
            data["outputs"] = [output.to_json() for output in self.outputs]
        return data


@dataclass(frozen=True)
class History(_Entry):
    """A run's per-epoch metrics, one list per metric (None where an epoch has no value:
    no validation split), as `train.train_model` records them."""

    TYPES = {key: (list,) for key in (
        "loss", "accuracy", "val_loss", "val_accuracy", "test_loss", "test_accuracy",
        "epoch_seconds", "test_seconds")}
    WHAT = "the card's history"

    loss: list[float | None] | None = None
    accuracy: list[float | None] | None = None
    val_loss: list[float | None] | None = None
    val_accuracy: list[float | None] | None = None
    test_loss: list[float | None] | None = None
    test_accuracy: list[float | None] | None = None
    epoch_seconds: list[float | None] | None = None
    test_seconds: list[float | None] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def series(self, metric: str) -> list[float | None]:
        """One metric's values, epoch by epoch (empty where it was not recorded)."""
        values = getattr(self, metric) if metric in self.TYPES else self.extra.get(metric)
        return list(values or [])

    @property
    def epochs(self) -> int:
        return len(self.loss or [])


@dataclass(frozen=True)
class Member(_Entry):
    """One run of an ensemble, as its card keeps it: enough to see how the run went."""

    TYPES = {"name": (str,), "best_epoch": (int,), "epochs_run": (int,),
             "train_accuracy": _NUMBER, "val_accuracy": _NUMBER, "test_accuracy": _NUMBER,
             "training_seconds": _NUMBER, "created": (str,), "history": (dict,),
             "init_seed": (int,)}
    WHAT = "an ensemble's run"

    name: str | None = None
    best_epoch: int | None = None
    epochs_run: int | None = None
    train_accuracy: float | None = None
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    training_seconds: float | None = None
    created: str | None = None
    history: History | None = None
    init_seed: int | None = None  # where its weights, batches and augmentation started
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "history", History.of(self.history))


@dataclass(frozen=True)
class ModelCard:
    """The card of one stored model. Every field may be absent (None) on an old or
    hand-made card, but `task`, which such a card reads as `DIGIT`; fields this version
    does not know are kept in `extra` and written back unchanged. The nested entries
    may be given as their JSON objects: they are read into their types."""

    architecture: str | None = None
    task: str = DIGIT  # what the model does: DIGIT (one digit) or NUMBER (a number)
    description: str | None = None
    activation: str | None = None
    params: int | None = None
    hyperparameters: dict | None = None  # the run's TrainConfig, and its schedule
    history: History | None = None  # per-epoch metrics
    members: list[Member] | None = None  # an ensemble's runs, each a short card of its own
    epochs_run: int | None = None
    best_epoch: int | None = None  # 1-based; the weights kept are this epoch's
    stopped_early: bool | None = None
    train_accuracy: float | None = None
    val_accuracy: float | None = None
    test_accuracy: float | None = None
    val_negative_log_likelihood: float | None = None
    training_seconds: float | None = None
    train_images: int | None = None
    val_images: int | None = None
    test_images: int | None = None
    trained_on: str | None = None  # the training data, in words
    pen_writers: list[int] | None = None
    preprocess_version: str | None = None
    versions: dict[str, str] | None = None  # library versions it was trained with
    created: str | None = None  # UTC, ISO 8601
    name: str | None = None
    owner: str | None = None  # the visitor who trained it here; None: shipped or CLI
    job: str | None = None  # the queued run that trained it
    reading: Reading | None = None  # its reading policy, the target and data it was fitted on
    onnx_sha256: str | None = None  # the SHA-256 of `<name>.onnx`, its graph for serving
    # a student's teacher and how it learnt from it: teacher, temperature, alpha
    distillation: dict | None = None
    int8: Int8Entry | None = None  # its int8 graph for serving (`mnist_core.training.quantize`)
    layers: LayersEntry | None = None  # its layers graph, for showing what its layers saw
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "task", DIGIT if self.task is None else self.task)
        set_(self, "reading", Reading.of(self.reading))
        set_(self, "int8", Int8Entry.of(self.int8))
        set_(self, "layers", LayersEntry.of(self.layers))
        set_(self, "history", History.of(self.history))
        if self.members is not None:
            if not isinstance(self.members, list):
                raise CardError(f"the card's 'members' is {self.members!r:.60}, not a list")
            set_(self, "members", [Member.of(member) for member in self.members])

    @classmethod
    def from_json(cls, data: object) -> ModelCard:
        """The card a JSON object holds; `CardError` names a field of the wrong type."""
        known, extra = _split(data, _TYPES, "a model card")
        return cls(**known, extra=extra)

    def to_json(self) -> dict:
        """The JSON object to store: the fields that are set, then the unknown ones."""
        data = {}
        for key in _TYPES:
            value = getattr(self, key)
            if isinstance(value, list) and key == "members":
                value = [member.to_json() for member in value]
            elif isinstance(value, _Entry):
                value = value.to_json()
            if value is not None:
                data[key] = value
        return data | self.extra

    def replace(self, **changes) -> ModelCard:
        return dataclasses.replace(self, **changes)

    @property
    def policy(self) -> ReadingPolicy:
        """How this model's readings become verdicts (the uncalibrated default if unset)."""
        return (self.reading or Reading()).policy

    @property
    def served_graph_sha256(self) -> str | None:
        """The SHA-256 of the graph the model is read through: its int8 graph's where the
        card names one, else its ONNX graph's."""
        return self.int8.onnx_sha256 if self.int8 else self.onnx_sha256

    @property
    def is_ensemble(self) -> bool:
        """Whether the model averages several runs (listed under `members`)."""
        return self.architecture == ENSEMBLE and bool(self.members)
