"""A model's card: what it is, how it was trained and how it scored, stored as JSON
beside its `.keras` and `.onnx` files. Training, ensembling and distilling write one,
everything else reads it, always through `ModelCard`, so a field has one name and one
type everywhere."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from mnist_core.verdict import ReadingPolicy

# A card's fields in the order they are written, each with the JSON types it may hold.
_TYPES: dict[str, tuple[type, ...]] = {
    "architecture": (str,), "description": (str,), "activation": (str,),
    "params": (int,), "hyperparameters": (dict,), "history": (dict,), "members": (list,),
    "epochs_run": (int,), "best_epoch": (int,), "stopped_early": (bool,),
    "train_accuracy": (float, int), "val_accuracy": (float, int),
    "test_accuracy": (float, int), "val_negative_log_likelihood": (float, int),
    "training_seconds": (float, int), "train_images": (int,), "val_images": (int,),
    "test_images": (int,), "trained_on": (str,), "pen_writers": (list,),
    "preprocess_version": (str,), "versions": (dict,), "created": (str,), "name": (str,),
    "owner": (str,), "job": (str,), "reading": (dict,), "onnx_sha256": (str,),
    "distillation": (dict,), "int8": (dict,),
}


class CardError(ValueError):
    """A card whose JSON is not an object, or holds a field of the wrong type."""


@dataclass(frozen=True)
class ModelCard:
    """The card of one stored model. Every field may be absent (None) on an old or
    hand-made card; fields this version does not know are kept in `extra` and written
    back unchanged."""

    architecture: str | None = None
    description: str | None = None
    activation: str | None = None
    params: int | None = None
    hyperparameters: dict | None = None  # the run's TrainConfig, and its schedule
    history: dict[str, list] | None = None  # per-epoch metrics, one list per key
    members: list[dict] | None = None  # an ensemble's runs, each a short card of its own
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
    reading: dict | None = None  # its ReadingPolicy, the target and data it was fitted on
    onnx_sha256: str | None = None  # the SHA-256 of `<name>.onnx`, its graph for serving
    # a student's teacher and how it learnt from it: teacher, temperature, alpha
    distillation: dict | None = None
    # its int8 graph for serving (`mnist_core.quantize`): checksum, reading policy, scores
    int8: dict | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: object) -> ModelCard:
        """The card a JSON object holds; `CardError` names a field of the wrong type."""
        if not isinstance(data, dict):
            raise CardError("a model card must be a JSON object")
        known, extra = {}, {}
        for key, value in data.items():
            if key not in _TYPES:
                extra[key] = value
                continue
            if value is not None and (
                not isinstance(value, _TYPES[key])
                or (isinstance(value, bool) and bool not in _TYPES[key])
            ):
                raise CardError(f"the card's {key!r} is {value!r}, not a {_TYPES[key][0].__name__}")
            known[key] = value
        return cls(**known, extra=extra)

    def to_json(self) -> dict:
        """The JSON object to store: the fields that are set, then the unknown ones."""
        data = {key: getattr(self, key) for key in _TYPES if getattr(self, key) is not None}
        return data | self.extra

    def replace(self, **changes) -> ModelCard:
        return dataclasses.replace(self, **changes)

    @property
    def policy(self) -> ReadingPolicy:
        """How this model's readings become verdicts (the uncalibrated default if unset)."""
        return ReadingPolicy.from_reading(self.reading)

    @property
    def is_ensemble(self) -> bool:
        """Whether the model averages several runs (listed under `members`)."""
        return self.architecture == ENSEMBLE and bool(self.members)


ENSEMBLE = "ensemble"  # the architecture named on an ensemble's card
