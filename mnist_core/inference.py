"""Class probabilities for prepared 28x28 images, fast enough to run on every stroke.

`model.predict` sets up a data pipeline on each call (about 100 ms here), so images go
through a `tf.function` of `model(x, training=False)` instead. A single drawing, the hot
path, uses an XLA-compiled version (half the time of the plain graph for one image);
batches use the plain graph, traced once per shape, in chunks of `BATCH`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mnist_core.calibration import ReadingPolicy, temper

BATCH = 1024
NOT_NAMED = -1  # the digit of a reading the app will not name
_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_policies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Readings:
    """What the app says about each image: calibrated `(N, 10)` probabilities, and the
    digit it names, `-1` where it will not name one (too unsure)."""

    probabilities: np.ndarray
    digits: np.ndarray


def set_reading_policy(model: keras.Model, policy: ReadingPolicy) -> None:
    """Attach the temperature and threshold (from the model's card) that `read_digits`
    applies to this model."""
    _policies[model] = policy


def reading_policy(model: keras.Model) -> ReadingPolicy:
    """The model's policy; the uncalibrated default if none was attached."""
    return _policies.get(model, ReadingPolicy())


def read_digits(model: keras.Model, images: np.ndarray) -> Readings:
    """Read `(N, 28, 28)` prepared images (or one `(28, 28)`): probabilities scaled by the
    model's calibrated temperature, and a digit only where the top probability reaches
    its threshold, chosen on held-out data for 99.7% accuracy on the digits named."""
    policy = reading_policy(model)
    probabilities = temper(predict_proba(model, images), policy.temperature)
    digits = probabilities.argmax(axis=1).astype(np.int64)
    digits[probabilities.max(axis=1, initial=0.0) < policy.min_probability] = NOT_NAMED
    return Readings(probabilities, digits)


def predict_proba(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Return `(N, 10)` float32 probabilities for `(N, 28, 28)` images in [0, 1].

    A single `(28, 28)` image is accepted too and gives `(1, 10)`.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2:
        x = x[np.newaxis]
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"expected images shaped (N, 28, 28), got {np.shape(images)}")
    if len(x) and (not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0):
        raise ValueError("image values must be finite and lie in [0, 1]")
    x = x.reshape((len(x), *model.input_shape[1:]))
    single, batched = _forward(model)
    if len(x) == 1:
        return single(tf.constant(x)).numpy().astype(np.float32, copy=False)
    chunks = [
        batched(tf.constant(x[start : start + BATCH])).numpy()
        for start in range(0, len(x), BATCH)
    ]
    if not chunks:
        return np.zeros((0, 10), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def warm_up(model: keras.Model) -> None:
    """Trace and compile the single-image path now, on a blank image, so the first
    drawing a person makes reads as fast as the next ones (the XLA compile alone takes
    a few hundred ms)."""
    predict_proba(model, np.zeros((1, 28, 28), dtype=np.float32))


def _forward(model: keras.Model):
    """The model's inference pass as (single-image XLA, batch) functions, made once."""
    functions = _compiled.get(model)
    if functions is None:

        def forward(x):
            return model(x, training=False)

        one_image = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
        functions = (
            # A concrete function skips tf.function's per-call signature matching.
            tf.function(forward, jit_compile=True, autograph=False).get_concrete_function(
                one_image
            ),
            tf.function(forward, reduce_retracing=True, autograph=False),
        )
        _compiled[model] = functions
    return functions
