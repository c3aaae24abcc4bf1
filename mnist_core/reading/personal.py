"""Reading a visitor's next drawings with the drawings they kept in mind, before any
training: forward passes only, on the web server's ONNX path.

A kept drawing is one the visitor labelled (a digit, or 10 for "not a digit"). The model's
graph gives, beside its probabilities, the `features` its class-score layer reads; a new
drawing near a kept one in that space is likely what the kept one is, in this visitor's
hand. Each kept drawing lends weight to its label, falling off with distance:

    q(c) ∝ p(c) + weight(c) * (p(c) + MODEL_FLOOR)        (then rows sum to 1)
    weight(c) = KEPT_WEIGHT * sum over kept drawings j labelled c of
                exp((nearness_j - 1) / NEARNESS_WIDTH)

where `p` is the model's calibrated reading. A drawing far from every kept one reads
nearly as the model reads it; a near copy of a kept drawing takes its label unless the model is
sure otherwise (the floor bounds how far a kept drawing can pull against a confident
model). A kept "not a digit" adds its weight spread evenly over the ten digits, which the
verdict reads as no digit (`verdict.judge`). The three constants were fitted together
(`python -m bench.personal --fit`) on pen writers the fitting models never saw, for the
likelihood of the right digit with no writer read worse, and hold for every kept count
from 1 to 10 per digit; the expected calibration error stays as low as the model's own.

`nearness` is the cosine similarity of the two drawings' features, rescaled so that 1 is
the same drawing and 0 the typical similarity between two of the visitor's drawings of
different labels (`KeptExamples.apart`): the spread differs from one network to another,
and this makes one width serve them all. An ensemble's features are its members' side by
side; each member's are made unit length, so the cosine is the members' mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.errors import MissingOutputError, MnistCoreError
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.model.runtime import FEATURES, PROBABILITIES, OnnxNetwork
from mnist_core.reading.inference import BATCH, Readings, read_digits

NOT_A_DIGIT = 10  # the label of a kept drawing that is no digit
KEPT_WEIGHT = 10.0  # a kept copy of the very drawing weighs this much against the model
NEARNESS_WIDTH = 0.1  # how fast a kept drawing's weight falls with distance
MODEL_FLOOR = 0.2  # the least the model is taken to give a digit a near kept drawing names
# The similarity between different labels assumed while the kept drawings hold only one
# label (the networks' features here put two digits of one writer about this close).
TYPICAL_APART = 0.25
APART_RANGE = (0.0, 0.9)  # kept drawings all alike must not stretch nearness without bound


class KeptDrawingsError(MnistCoreError, ValueError):
    """Kept drawings that cannot be read with: bad labels or images, or features of
    another model than the one reading."""


@dataclass(frozen=True)
class KeptExamples:
    """A visitor's kept drawings as one model sees them, computed once: their `features`
    `(K, d)` float32 (each member's part unit length, see the module's docstring), their
    `labels` `(K,)` (0-9, or 10 for "not a digit"), the `model` whose features these are,
    and `apart`, the typical cosine between two of them with different labels."""

    features: np.ndarray
    labels: np.ndarray
    model: str
    apart: float = TYPICAL_APART

    def __len__(self) -> int:
        return len(self.labels)

    def read(self, model: LoadedModel, images28: np.ndarray) -> Readings:
        """`read_with_kept(model, self, images28)`."""
        return read_with_kept(model, self, images28)


def kept_examples(model: LoadedModel, images28: np.ndarray, labels: np.ndarray) -> KeptExamples:
    """A visitor's kept drawings, prepared `(K, 28, 28)` images in [0, 1] and their labels
    (0-9, 10 for "not a digit"), as `model` sees them: one forward pass. Raises
    `KeptDrawingsError` for labels or images that do not fit, and `MissingOutputError` for
    a model whose graph gives no features (a graph exported before graphs had them, or a
    Keras network): it can only read without the kept drawings."""
    images = _checked_images(images28)
    labels = np.asarray(labels)
    if labels.ndim != 1 or len(labels) != len(images):
        raise KeptDrawingsError(f"{len(images)} kept drawings need as many labels, "
                                f"got labels shaped {labels.shape}")
    if len(labels) and (not np.issubdtype(labels.dtype, np.integer)
                        or labels.min() < 0 or labels.max() > NOT_A_DIGIT):
        raise KeptDrawingsError("a kept drawing's label must be a digit 0-9, or 10 for "
                                f"\"not a digit\"; got {sorted(set(labels.tolist()))[:12]}")
    features = _outputs(model, images, FEATURES)[FEATURES] if len(images) else None
    return kept_from_features(model, features, labels)


def kept_from_features(model: LoadedModel, features: np.ndarray | None,
                       labels: np.ndarray) -> KeptExamples:
    """`KeptExamples` from features `model` already gave for the kept drawings (None for
    none): what `kept_examples` does after its forward pass."""
    labels = np.asarray(labels, dtype=np.int64)
    if features is None or not len(labels):
        return KeptExamples(np.zeros((0, 0), np.float32), labels[:0], model.name)
    unit = unit_features(model, features)
    return KeptExamples(unit, labels, model.name, _apart(unit, labels))


def read_with_kept(model: LoadedModel, kept: KeptExamples | None,
                   images28: np.ndarray) -> Readings:
    """Read `(N, 28, 28)` prepared images (or one `(28, 28)`) as `read_digits` does, with
    the visitor's kept drawings in mind: calibrated probabilities blended with the kept
    drawings near each image (`blend`), the digit named by the model's policy, and
    `used_kept`, how many kept drawings were weighed. Without kept drawings (None or
    none) this is `read_digits` itself. Raises `KeptDrawingsError` when `kept` holds
    another model's features."""
    if kept is None or not len(kept):
        return read_digits(model, images28)
    if kept.model != model.name:
        raise KeptDrawingsError(f"these kept drawings were seen by model {kept.model!r}, not "
                                f"{model.name!r}: make them again with this model")
    images = _checked_images(images28)
    if not len(images):
        return read_digits(model, images)
    chunks = [_outputs(model, images[start: start + BATCH], PROBABILITIES, FEATURES)
              for start in range(0, len(images), BATCH)]
    probabilities = np.concatenate([chunk[PROBABILITIES] for chunk in chunks])
    features = np.concatenate([chunk[FEATURES] for chunk in chunks])
    if features.shape[1] != kept.features.shape[1]:
        raise KeptDrawingsError(
            f"model {model.name!r} gives {features.shape[1]} features, these kept drawings "
            f"hold {kept.features.shape[1]}: make them again with this model")
    calibrated = model.policy.calibrate(probabilities)
    blended = blend(kept, calibrated, unit_features(model, features))
    return Readings(blended, model.policy.named_digits(blended), used_kept=len(kept))


def blend(kept: KeptExamples, calibrated: np.ndarray, unit: np.ndarray, *,
          weight: float = KEPT_WEIGHT, width: float = NEARNESS_WIDTH,
          floor: float = MODEL_FLOOR) -> np.ndarray:
    """The model's calibrated `(N, 10)` probabilities for images with these unit
    features (`unit_features`) blended with the kept drawings (formula in the module's
    docstring): `(N, 10)` float32, rows summing to 1. The constants are arguments for
    the benchmark that fits them."""
    p = np.asarray(calibrated, dtype=np.float64)
    nearness = (unit.astype(np.float64) @ kept.features.T - kept.apart) / (1.0 - kept.apart)
    weights = weight * np.exp((np.minimum(nearness, 1.0) - 1.0) / width)  # (N, K)
    by_label = weights @ np.eye(NOT_A_DIGIT + 1)[kept.labels]  # (N, 11)
    digits, not_digit = by_label[:, :NOT_A_DIGIT], by_label[:, NOT_A_DIGIT:]
    q = p + digits * (p + floor) + not_digit / NOT_A_DIGIT
    return (q / q.sum(axis=1, keepdims=True)).astype(np.float32)


def unit_features(model: LoadedModel, features: np.ndarray) -> np.ndarray:
    """Features as `blend` compares them: each ensemble member's part unit length and
    scaled by 1/sqrt(members), so a dot product is the members' mean cosine."""
    members = len(model.card.members or ()) if model.card.is_ensemble else 1
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] % members:
        raise KeptDrawingsError(f"model {model.name!r} gave features shaped {x.shape}, not "
                                f"{members} equal parts side by side")
    parts = x.reshape(len(x), members, -1)
    norms = np.linalg.norm(parts, axis=2, keepdims=True)
    unit = parts / np.maximum(norms, 1e-12) / np.sqrt(members)
    return unit.reshape(x.shape).astype(np.float32)


def _apart(unit: np.ndarray, labels: np.ndarray) -> float:
    """The median cosine between kept drawings of different labels, within
    `APART_RANGE`; `TYPICAL_APART` while they hold one label only."""
    different = labels[:, None] != labels[None, :]
    if not different.any():
        return TYPICAL_APART
    cosines = (unit @ unit.T)[different]
    return float(np.clip(np.median(cosines), *APART_RANGE))


def _outputs(model: LoadedModel, images: np.ndarray, *names: str) -> dict[str, np.ndarray]:
    """The named outputs of the model's ONNX graph for checked images, in one pass."""
    if not isinstance(model.network, OnnxNetwork):
        raise MissingOutputError(f"model {model.name!r} is a Keras network here: kept "
                                 "drawings are read through its ONNX graph (open_model)")
    return model.network.outputs(images, *names)


def _checked_images(images28: np.ndarray) -> np.ndarray:
    """`(N, 28, 28)` float32 in [0, 1] (one `(28, 28)` image becomes `(1, 28, 28)`), as
    `inference.predict_proba` takes them; `KeptDrawingsError` for anything else."""
    x = np.asarray(images28, dtype=np.float32)
    if x.ndim == 2:
        x = x[np.newaxis]
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise KeptDrawingsError(f"expected drawings prepared as (N, 28, 28) images, got "
                                f"{np.shape(images28)}")
    if len(x) and not (x.min() >= 0.0 and x.max() <= 1.0):
        raise KeptDrawingsError("a prepared drawing's values must be finite and lie in [0, 1]")
    return x
