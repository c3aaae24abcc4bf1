"""Class probabilities for prepared 28x28 images, fast enough to run on every stroke.

`model.predict` sets up a data pipeline on each call (about 100 ms here), so a single
drawing goes through a `tf.function` of `model(x, training=False)` instead, traced once
per model and batch size; large batches are cut into chunks of `BATCH`.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf

BATCH = 1024
_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


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
    forward = _forward(model)
    chunks = [
        forward(tf.constant(x[start : start + BATCH])).numpy()
        for start in range(0, len(x), BATCH)
    ]
    if not chunks:
        return np.zeros((0, 10), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32, copy=False)


def _forward(model: keras.Model):
    """The model's inference pass as a compiled TensorFlow function, made once."""
    forward = _compiled.get(model)
    if forward is None:
        forward = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
        _compiled[model] = forward
    return forward
