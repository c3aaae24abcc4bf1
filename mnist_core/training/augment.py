"""Random distortions of training digits that mimic how people draw on the pad.

A drawn digit differs from an MNIST one by slant, size, position and pen width, so
each training image gets a random stroke thickening or thinning and a random small
affine transform (rotation, shear, scale, shift). Runs in TensorFlow inside the
`tf.data` pipeline, batched, so it costs little next to the model's own step.
"""

from __future__ import annotations

import math

import tensorflow as tf

MAX_ROTATION_DEG = 12.0
MAX_SHEAR = 0.2
SCALE_RANGE = (0.88, 1.1)
MAX_SHIFT_PX = 2.0
# Share of images made bolder and thinner; the rest keep their stroke.
THICKEN_SHARE, THIN_SHARE = 0.35, 0.2


def augment_batch(images: tf.Tensor) -> tf.Tensor:
    """Distort a batch `(B, 28, 28)` of float images in [0, 1]; returns the same shape."""
    images = tf.convert_to_tensor(images, tf.float32)
    x = images[..., tf.newaxis]
    x = _vary_stroke_width(x)
    x = _random_affine(x)
    return tf.clip_by_value(x[..., 0], 0.0, 1.0)


def _vary_stroke_width(x: tf.Tensor) -> tf.Tensor:
    """Blend each image towards its 3x3 dilation (bolder) or erosion (thinner)."""
    batch = tf.shape(x)[0]
    dilated = tf.nn.max_pool2d(x, 3, 1, "SAME")
    eroded = -tf.nn.max_pool2d(-x, 3, 1, "SAME")
    pick = tf.random.uniform([batch, 1, 1, 1])
    amount = tf.random.uniform([batch, 1, 1, 1], 0.0, 0.7)
    bolder = x + amount * (dilated - x)
    thinner = x + amount * (eroded - x)
    return tf.where(
        pick < THICKEN_SHARE, bolder, tf.where(pick < THICKEN_SHARE + THIN_SHARE, thinner, x)
    )


def _random_affine(x: tf.Tensor) -> tf.Tensor:
    """Rotate, shear, scale and shift each image about its centre, bilinear."""
    batch = tf.shape(x)[0]
    size = tf.cast(tf.shape(x)[1], tf.float32)
    centre = (size - 1.0) / 2.0
    angle = tf.random.uniform([batch], -1.0, 1.0) * MAX_ROTATION_DEG * math.pi / 180.0
    shear = tf.random.uniform([batch], -MAX_SHEAR, MAX_SHEAR)
    scale = tf.random.uniform([batch], *SCALE_RANGE)
    shift_x = tf.random.uniform([batch], -MAX_SHIFT_PX, MAX_SHIFT_PX)
    shift_y = tf.random.uniform([batch], -MAX_SHIFT_PX, MAX_SHIFT_PX)

    # Forward map A = scale * rotation * shear; the op wants output -> input, so A^-1.
    cos, sin = tf.cos(angle), tf.sin(angle)
    a = scale * cos
    b = scale * (cos * shear - sin)
    c = scale * sin
    d = scale * (sin * shear + cos)
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    # input = A^-1 (output - centre - shift) + centre
    ox, oy = centre + shift_x, centre + shift_y
    tx = centre - (ia * ox + ib * oy)
    ty = centre - (ic * ox + id_ * oy)
    zeros = tf.zeros_like(a)
    transforms = tf.stack([ia, ib, tx, ic, id_, ty, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=x,
        transforms=transforms,
        output_shape=tf.shape(x)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
