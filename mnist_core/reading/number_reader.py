"""A written number read at once by a whole-number reader (a CTC network), without
TensorFlow: its per-step probabilities decoded into digits, each with its probabilities,
a "not sure", and a box on the drawing.

The network gives, for each `STEP_PX` columns of the prepared image
(`number_input.prepare_number`), the probabilities of the ten digits and of `BLANK`.
The best path takes the likeliest class at each step; runs of one digit are that digit
once, and blanks separate digits (so "11" is 1, blank, 1). Each digit then gets:

- `probabilities`: the ten digits' probabilities at the step of its run where the digit
  is likeliest, renormalised over the digits (the blank's share left out);
- `sureness`: the digit's own probability at that step, blank included: a digit is
  named only where it reaches the model's `min_probability` (fitted on held-out
  composed numbers, `number_eval.fit_min_probability`), else it is `?`;
- `box`: where it lies on the drawing. Between two neighbours' runs, the cut is the
  image column with the least ink (the gap between spaced digits, the thinnest join
  between touching ones), past some ink of the digit before it; the columns between
  cuts are carried back to the drawing, and the box is the ink in them, top to bottom.

`read_number_ctc` returns the `NumberReading` the segmenting reader
(`inference.read_number`) returns, so whatever shows one shows the other.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.errors import EmptyDrawingError
from mnist_core.model.loaded_model import LoadedModel
from mnist_core.model.number_network import BLANK, CLASSES, NUMBER_INPUT_SHAPE, STEP_PX
from mnist_core.model.runtime import OnnxNetwork
from mnist_core.model.verdict import NOT_NAMED
from mnist_core.reading.inference import UNREAD, DigitInNumber, NumberReading
from mnist_core.reading.number_input import NumberInput, prepare_number
from mnist_core.reading.preprocess import INK_LEVEL, MIN_EXTENT_PX, center_ink, ink_from_image

if TYPE_CHECKING:
    import keras


# A digit's box holds at least this many of the reader's image columns of ink (a 1, 28
# px tall, is about 3 wide) before the cut to the next digit.
OWN_INK_COLUMNS = 2


@dataclass(frozen=True)
class DecodedDigit:
    """One digit on the best path: the digit, its steps `[start, end)`, the step where it
    is likeliest, its ten probabilities there (renormalised over the digits) and its own
    probability there, blank included (`sureness`)."""

    digit: int
    start: int
    end: int
    peak: int
    probabilities: np.ndarray
    sureness: float


def best_path(probabilities: np.ndarray) -> list[DecodedDigit]:
    """Greedy CTC decoding of `(T, CLASSES)` probabilities: the likeliest class at each
    step, runs collapsed, blanks dropped."""
    probabilities = np.asarray(probabilities, dtype=np.float32)
    if probabilities.ndim != 2 or probabilities.shape[1] != CLASSES:
        raise ValueError(f"expected (steps, {CLASSES}) probabilities, got {probabilities.shape}")
    best = probabilities.argmax(axis=1)
    digits = []
    start = 0
    for t in range(1, len(best) + 1):
        if t < len(best) and best[t] == best[start]:
            continue
        label = int(best[start])
        if label != BLANK:
            peak = start + int(probabilities[start:t, label].argmax())
            ten = probabilities[peak, :BLANK].astype(np.float64)
            digits.append(DecodedDigit(label, start, t, peak,
                                       (ten / max(ten.sum(), 1e-12)).astype(np.float32),
                                       float(probabilities[peak, label])))
        start = t
    return digits


def number_text(digits: list[DecodedDigit], min_probability: float = 0.0) -> str:
    """The digits as text, `?` for each less sure than `min_probability`."""
    return "".join(str(d.digit) if d.sureness >= min_probability else UNREAD for d in digits)


def digit_boxes(digits: list[DecodedDigit], prepared: NumberInput
                ) -> list[tuple[int, int, int, int]]:
    """Each decoded digit's box on the drawing, (top, bottom, left, right), exclusive
    ends: the ink between the cuts either side of it (see the module's docstring)."""
    if not digits:
        return []
    column_ink = prepared.image.sum(axis=0)
    inked = np.flatnonzero(column_ink > 0)
    first, last = int(inked[0]), int(inked[-1]) + 1  # the ink's columns in the image
    strokes = np.flatnonzero(column_ink >= 1.0)  # columns holding a pixel's worth of ink
    cuts, previous = [float(prepared.crop[2])], float(first)
    for before, after in zip(digits, digits[1:]):
        # about between the middles of the two runs, within the ink (the network may
        # place a digit a step early or late: on the margin, or in the gap beside it),
        # and past some strokes of the digit before: each digit gets ink of its own
        own = strokes[strokes >= previous]
        low = max((before.start + before.end) * STEP_PX // 2,
                  int(own[0]) + OWN_INK_COLUMNS if len(own) else last)
        low = int(np.clip(low, first, last - 1))
        high = int(np.clip((after.start + after.end + 1) * STEP_PX // 2, low + 1, last))
        between = column_ink[low:high]
        least = np.flatnonzero(between <= between.min() + 1e-6)
        # the middle of the emptiest columns: a gap's centre, not its first column
        previous = low + (least[0] + least[-1]) / 2 + 0.5
        cuts.append(prepared.to_drawing_x(previous))
    cuts.append(float(prepared.crop[3]))
    ink = prepared.ink
    top, bottom = prepared.crop[0], prepared.crop[1]
    boxes = []
    for left_x, right_x in zip(cuts, cuts[1:]):
        left = int(np.clip(np.floor(left_x), prepared.crop[2], prepared.crop[3] - 1))
        right = int(np.clip(np.ceil(right_x), left + 1, prepared.crop[3]))
        inked = ink[top:bottom, left:right] > INK_LEVEL
        rows, cols = np.flatnonzero(inked.any(axis=1)), np.flatnonzero(inked.any(axis=0))
        if len(rows):
            boxes.append((top + int(rows[0]), top + int(rows[-1]) + 1,
                          left + int(cols[0]), left + int(cols[-1]) + 1))
        else:
            boxes.append((top, bottom, left, right))
    return boxes


def number_probabilities(model: LoadedModel | OnnxNetwork | keras.Model,
                         images: np.ndarray) -> np.ndarray:
    """A number reader's `(N, T, CLASSES)` probabilities for prepared `(N, 32, 128)`
    images: its ONNX graph, or a Keras network (a run being trained) called directly."""
    network = model.network if isinstance(model, LoadedModel) else model
    x = np.asarray(images, dtype=np.float32)
    if x.ndim == 2:
        x = x[np.newaxis]
    if x.shape[1:] != NUMBER_INPUT_SHAPE:
        raise ValueError(f"expected images shaped (N, {NUMBER_INPUT_SHAPE[0]}, "
                         f"{NUMBER_INPUT_SHAPE[1]}), got {np.shape(images)}")
    if isinstance(network, OnnxNetwork):
        return network(x)
    return np.asarray(network(x, training=False), dtype=np.float32)


def decode_number(probabilities: np.ndarray, prepared: NumberInput,
                  min_probability: float) -> NumberReading:
    """A number reader's `(T, CLASSES)` probabilities for one prepared drawing as the
    app's `NumberReading`: each digit with its box, the 28x28 of its ink (as a single
    drawing is prepared: what the Draw page shows and keeps), its probabilities, and
    the digit named, `NOT_NAMED` where less sure than `min_probability`."""
    digits = best_path(probabilities)
    found = []
    for digit, box in zip(digits, digit_boxes(digits, prepared)):
        top, bottom, left, right = box
        image = np.zeros((28, 28), dtype=np.float32)  # for a digit read where no ink is
        if min(bottom - top, right - left) >= MIN_EXTENT_PX:
            with contextlib.suppress(EmptyDrawingError):
                image = center_ink(prepared.ink[top:bottom, left:right])
        named = digit.digit if digit.sureness >= min_probability else NOT_NAMED
        found.append(DigitInNumber(box, image, digit.probabilities, named))
    return NumberReading(number_text(digits, min_probability), tuple(found))


def read_number_ctc(model: LoadedModel, image: np.ndarray) -> NumberReading:
    """Read a number written on a canvas of any width (white on black, RGBA or grayscale
    like `read_number`) with a whole-number reader, its "not sure" threshold its card's
    (`model.policy.min_probability`). Raises `EmptyDrawingError` for a blank canvas or a
    dot."""
    prepared = prepare_number(ink_from_image(image))
    probabilities = number_probabilities(model, prepared.image)[0]
    return decode_number(probabilities, prepared, model.policy.min_probability)
