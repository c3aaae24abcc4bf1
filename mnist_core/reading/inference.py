"""Class probabilities for prepared 28x28 images, fast enough to run on every stroke.

A model opened for serving (`registry.open_model`) holds its ONNX graph, which
onnxruntime runs: the web server reads this way and never imports TensorFlow. A Keras
network (`registry.load_model`, a run being trained) is read with TensorFlow, imported
only then: `model.predict` sets up a data pipeline on each call (about 100 ms here), so
images go through a `tf.function` of `model(x, training=False)` instead. A single
image uses an XLA-compiled version (half the time of the plain graph for one image);
batches use the plain graph, traced once for any batch size. Both read in chunks of
`BATCH`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from mnist_core.errors import EmptyDrawingError
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.model.runtime import OnnxNetwork
from mnist_core.model.verdict import NOT_NAMED, Verdict, judge
from mnist_core.reading.preprocess import (
    PreprocessSteps,
    center_ink,
    ink_from_image,
    is_dot,
    photo_to_mnist,
)
from mnist_core.reading.segment import segment_number

if TYPE_CHECKING:
    import keras

    from mnist_core.reading.personal import KeptExamples

BATCH = 1024
UNREAD = "?"  # stands in a number's text for a digit the app will not name
# A piece that may hold several digits is read every other way it can be cut only when
# it is read as one digit less surely than this; it is then read as several touching
# digits only when the least sure of them is this much surer than the whole.
RECHECK_BELOW = 0.99
CUT_MARGIN = 0.1
# Some digit collections stored each digit stretched to fill a tiny frame both ways
# (Semeion: 16x16, black and white), which makes an upright 1 a block. A tiny upload
# whose ink fills nearly all its frame both ways (thresholding may shave a row off) is
# also read squeezed sideways to these widths, and the surest reading wins. Chosen on
# 3,000 MNIST digits the default held out, made into tiny scans (`bench.scans`).
STRETCHED_MAX_PX = 32
STRETCHED_FILL = 0.8
SQUEEZES = (0.6, 0.35)
_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class Readings:
    """What the app says about each image: calibrated `(N, 10)` probabilities, and the
    digit it names, `NOT_NAMED` (-1) where it names none; `used_kept`, how many of the
    visitor's kept drawings the reading weighed (0: the model alone; `personal`)."""

    probabilities: np.ndarray
    digits: np.ndarray
    used_kept: int = 0

    def verdict(self, row: int = 0) -> Verdict:
        """The verdict on one image: a digit, not sure (with two candidates), or none."""
        return judge(self.probabilities[row], int(self.digits[row]))


def read_digits(model: LoadedModel, images: np.ndarray) -> Readings:
    """Read `(N, 28, 28)` prepared images (or one `(28, 28)`) with the model's reading
    policy: its calibrated probabilities, and a digit where the policy names one."""
    probabilities = model.policy.calibrate(predict_proba(model, images))
    return Readings(probabilities, model.policy.named_digits(probabilities))


def read_drawing(model: LoadedModel, image: np.ndarray, steps: PreprocessSteps | None = None,
                 kept: KeptExamples | None = None) -> tuple[np.ndarray, Readings]:
    """Prepare a drawing from the pad (`canvas_to_mnist`) and read it, as the Draw page
    does: the `(28, 28)` image the model saw and its `Readings` (one row). With `kept`,
    the visitor's kept drawings as this model sees them (`personal.kept_examples`), it is
    read with them in mind (`personal.read_with_kept`). Raises `EmptyDrawingError` for a
    blank pad, and for a dot or a blot (a tap of the pen), which cropping would blow up
    into a filled disk that reads as a 0."""
    ink = ink_from_image(image)
    if is_dot(ink):
        raise EmptyDrawingError("the drawing is only a dot or a blot: draw a digit")
    x = center_ink(ink, steps)
    return x, (read_digits(model, x) if kept is None else kept.read(model, x))


def read_upload(model: LoadedModel, image: np.ndarray, steps: PreprocessSteps | None = None
                ) -> tuple[np.ndarray, Readings]:
    """Prepare an uploaded photo or scan of one digit and read it, as the Draw page does:
    the `(28, 28)` image the model saw and its `Readings` (one row). A tiny image whose
    ink fills its frame both ways is read squeezed sideways too (`upload_views`) and the
    surest reading is the answer. Raises `EmptyDrawingError` when there is no digit."""
    views = upload_views(image)
    readings, chosen = read_views(model, [np.stack([x for x, _ in views])])
    x, seen = views[int(chosen[0])]
    if steps is not None:
        vars(steps).update(vars(seen))
    return x, readings


def upload_views(image: np.ndarray) -> list[tuple[np.ndarray, PreprocessSteps]]:
    """The ways an upload is read, each prepared by `photo_to_mnist` (with its steps):
    the image as it is, and, when it is tiny and its ink fills the frame both ways
    (perhaps stretched to fill it), also squeezed sideways to each of `SQUEEZES`."""
    steps = PreprocessSteps()
    views = [(photo_to_mnist(image, steps), steps)]
    if _fills_tiny_frame(steps):
        height, width = image.shape[:2]
        for squeeze in SQUEEZES:
            narrower = cv2.resize(image, (max(1, round(width * squeeze)), height),
                                  interpolation=cv2.INTER_AREA)
            squeezed = PreprocessSteps()
            views.append((photo_to_mnist(narrower, squeezed), squeezed))
    return views


def read_views(model: LoadedModel, views: list[np.ndarray]) -> tuple[Readings, np.ndarray]:
    """Read several uploads at once, each given as its views `(k, 28, 28)`: one reading
    per upload, its surest view's (highest top probability), and which view that was."""
    if not views:
        return Readings(np.zeros((0, 10), np.float32), np.zeros(0, np.int64)), np.zeros(0, int)
    readings = read_digits(model, np.concatenate(views))
    starts = np.cumsum([0] + [len(v) for v in views[:-1]])
    top = readings.probabilities.max(axis=1)
    rows = np.array([start + int(top[start: start + len(v)].argmax())
                     for start, v in zip(starts, views)], dtype=np.int64)
    return Readings(readings.probabilities[rows], readings.digits[rows]), rows - starts


def _fills_tiny_frame(steps: PreprocessSteps) -> bool:
    """Whether a prepared upload was a tiny image with its ink filling it both ways."""
    height, width = steps.ink.shape
    top, bottom, left, right = steps.bbox
    return (max(height, width) <= STRETCHED_MAX_PX
            and bottom - top >= STRETCHED_FILL * height
            and right - left >= STRETCHED_FILL * width)


@dataclass(frozen=True)
class DigitInNumber:
    """One digit of a written number: where it is on the drawing (`box` = top, bottom,
    left, right, exclusive ends, in pixels), the 28x28 `image` the model saw, its
    calibrated `probabilities` (10,) and the digit named, -1 for none."""

    box: tuple[int, int, int, int]
    image: np.ndarray
    probabilities: np.ndarray
    digit: int


@dataclass(frozen=True)
class NumberReading:
    """A written number as the app reads it: `text` holds the digits left to right,
    with `?` where it names none; `digits` one reading per digit."""

    text: str
    digits: tuple[DigitInNumber, ...]


def read_number(model: LoadedModel, image: np.ndarray) -> NumberReading:
    """Read a number written on a canvas of any width (white on black, RGBA or grayscale
    like `preprocess.canvas_to_mnist`). Raises `EmptyDrawingError` for a blank canvas.

    The ink is cut into pieces (`segment.segment_number`), each prepared like a single
    drawing (`center_ink`) and read with `read_digits`. A piece as wide as several digits
    is read every way it can be cut in that same batch; one that could be several
    digits but is read as one less surely than `RECHECK_BELOW` is read its other ways in
    one more batch. The surest way (by its least sure digit) replaces the whole when it
    is surer by `CUT_MARGIN`, or, for a piece as wide as several digits, unless the
    whole is surer by that much.
    """
    pieces = segment_number(ink_from_image(image))
    # only a piece as wide as several digits is cut now: most are read surely whole
    read_now = [piece.ways if piece.wideness > 0 else ((piece.whole,),) for piece in pieces]
    first = iter(_read_ways(model, [way for ways in read_now for way in ways]))
    readings = [[next(first) for _ in ways] for ways in read_now]
    unsure = [
        i for i, piece in enumerate(pieces)
        if piece.wideness == 0 and piece.divisible
        and readings[i][0].sureness < RECHECK_BELOW and len(piece.ways) > 1
    ]
    second = iter(_read_ways(model, [way for i in unsure for way in pieces[i].ways[1:]]))
    for i in unsure:
        readings[i] += [next(second) for _ in pieces[i].ways[1:]]
    chosen = []
    for piece, (whole, *others) in zip(pieces, readings):
        best = max(others, key=lambda way: way.sureness, default=None)
        # the wider the piece, the less a cut must beat the whole by (down to losing
        # by CUT_MARGIN for a piece as wide as several digits)
        margin = CUT_MARGIN * (1 - 2 * piece.wideness)
        chosen.append(best if best and best.sureness > whole.sureness + margin else whole)
    digits = tuple(digit for way in chosen for digit in way.digits)
    text = "".join(UNREAD if d.digit == NOT_NAMED else str(d.digit) for d in digits)
    return NumberReading(text, digits)


@dataclass(frozen=True)
class _WayRead:
    """One way of cutting a piece, read: its digits, and how sure the least sure is."""

    digits: tuple[DigitInNumber, ...]

    @property
    def sureness(self) -> float:
        return min(float(d.probabilities.max()) for d in self.digits)


def _read_ways(model: LoadedModel, ways: list) -> list[_WayRead]:
    """Read every segment of every way in one batch."""
    segments = [segment for way in ways for segment in way]
    if not segments:
        return []
    images = np.stack([center_ink(segment.ink) for segment in segments])
    readings = read_digits(model, images)
    found = iter(
        DigitInNumber(segment.box, image, probabilities, int(digit))
        for segment, image, probabilities, digit in zip(
            segments, images, readings.probabilities, readings.digits
        )
    )
    return [_WayRead(tuple(next(found) for _ in way)) for way in ways]


def predict_proba(model: LoadedModel | keras.Model | OnnxNetwork,
                  images: np.ndarray) -> np.ndarray:
    """Return the network's own `(N, 10)` float32 probabilities (before calibration) for
    `(N, 28, 28)` images in [0, 1]. A single `(28, 28)` image gives `(1, 10)`.

    `model` is a model from the store (its ONNX graph or its Keras network), or a bare
    network (a run being trained).
    """
    network = model.network if isinstance(model, LoadedModel) else model
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2:
        x = x[np.newaxis]
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        raise ValueError(f"expected images shaped (N, 28, 28), got {np.shape(images)}")
    if not len(x):
        return np.zeros((0, 10), dtype=np.float32)
    if not (x.min() >= 0.0 and x.max() <= 1.0):  # False for NaN too; inf is out of range
        raise ValueError("image values must be finite and lie in [0, 1]")
    forward = network if isinstance(network, OnnxNetwork) else _keras_forward(network)
    if len(x) <= BATCH:  # a drawing, a written number: no copy into a list and back
        return forward(x).astype(np.float32, copy=False)
    chunks = [forward(x[start : start + BATCH]) for start in range(0, len(x), BATCH)]
    return np.concatenate(chunks).astype(np.float32, copy=False)


def warm_up(model: LoadedModel | keras.Model | OnnxNetwork) -> None:
    """Read a blank image and a pair now, so the first drawing a person makes reads as
    fast as the next ones: a Keras network's single-image path is XLA-compiled (a few
    hundred ms), and a written number takes the batch path."""
    predict_proba(model, np.zeros((1, 28, 28), dtype=np.float32))
    predict_proba(model, np.zeros((2, 28, 28), dtype=np.float32))


def _keras_forward(network: keras.Model):
    """A Keras network's pass on checked `(n, 28, 28)` float32 images, as numpy."""
    import tensorflow as tf  # only for a Keras network: the web server reads with ONNX

    single, batched = _forward(network)
    shape = network.input_shape[1:]

    def forward(x: np.ndarray) -> np.ndarray:
        x = tf.constant(x.reshape((len(x), *shape)))
        return (single if len(x) == 1 else batched)(x).numpy()

    return forward


def _forward(model: keras.Model):
    """The network's inference pass as (single-image XLA, batch) functions, made once."""
    import tensorflow as tf

    functions = _compiled.get(model)
    if functions is None:

        def forward(x):
            return model(x, training=False)

        one_image = tf.TensorSpec((1, *model.input_shape[1:]), tf.float32)
        any_batch = tf.TensorSpec((None, *model.input_shape[1:]), tf.float32)
        # Concrete functions skip tf.function's per-call signature matching.
        functions = (
            tf.function(forward, jit_compile=True, autograph=False).get_concrete_function(
                one_image
            ),
            tf.function(forward, autograph=False).get_concrete_function(any_batch),
        )
        _compiled[model] = functions
    return functions
