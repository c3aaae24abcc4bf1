"""Numbers to train a whole-number reader on, composed on the fly: from MNIST training
digits and from pen writers' strokes drawn as the number pad draws them, each prepared
by `number_input.prepare_number`, the reader's own path.

Each number has 1-5 digits (up to `MAX_DIGITS` now and then), written by one hand:
spaced, or close enough that neighbours touch and overlap; each digit a little taller
or shorter and higher or lower than the others, some slanted, the pen's width varied.
A few drawings are no number at all (letters, scribbles, shapes, doodles): their label
is empty, so the reader learns to emit nothing for them. One seeded generator decides
everything: same seed, same numbers. No TensorFlow here: benchmarks and tests compose
the same numbers without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mnist_core.errors import EmptyDrawingError
from mnist_core.reading.number_input import NUMBER_HEIGHT, NUMBER_WIDTH, prepare_number
from mnist_core.reading.preprocess import INK_LEVEL
from mnist_core.reading.segment import NUMBER_PAD
from mnist_core.sources.pendigits import PEN_WIDTH, PenDigit, compose_number

MAX_DIGITS = 8
# How often a number has 1, 2, ..., MAX_DIGITS digits: mostly 1-5.
LENGTH_WEIGHTS = np.array([14, 17, 17, 17, 19, 6, 5, 5], dtype=np.float64)
# Numbers of pen writers' strokes are drawn on the pad at half its size (the reader
# scales every number to 28 px tall, so half the pixels draw the same number).
PAD_SCALE = 0.5
PEN_WIDTHS = (10.0, 26.0)  # the pad's pen, px at full size
PEN_SHARE = 0.55  # of the numbers, written with pen strokes; the rest with MNIST digits
NON_NUMBER_SHARE = 0.04  # drawings that are no number: an empty label
NON_NUMBER_KINDS = ("letter", "scribble", "shape", "doodle")
CLOSE_SHARE = 0.5  # of the numbers, written with touching or overlapping digits
# Gaps between neighbouring digits as a share of the digit height: between their strokes
# for pen numbers (the pen's width comes off), between their ink for MNIST numbers.
PEN_GAPS = {"spaced": (0.08, 0.5), "close": (-0.06, 0.1)}
MNIST_GAPS = {"spaced": (0.06, 0.5), "close": (-0.2, 0.04)}
RESTYLE_SHARE = 0.3  # pen digits rewritten in other hands (`pen_styles.restyle`)
SHEAR_SHARE = 0.3  # numbers slanted as a whole, by up to MAX_SHEAR
MAX_SHEAR = 0.3
MNIST_HEIGHT = (20.0, 28.0)  # an MNIST number's digit height, px, before preparation
MNIST_SIZE_SPREAD = (0.85, 1.15)  # each MNIST digit's height against the number's
MNIST_JITTER = 0.08  # each MNIST digit moved up or down by up to this share of the height
BOLD_SHARE = 0.3  # MNIST numbers drawn bolder (dilated)
PAD = "pad"  # a composed number's source: pen strokes drawn as the pad draws
MNIST = "mnist"


@dataclass(frozen=True)
class ComposedNumber:
    """A composed training number: its ink `(H, W)` float32 in [0, 1], its digits left to
    right (empty for a drawing that is no number), where it came from (`PAD`, `MNIST`,
    or a non-digit kind) and whether its digits were written close (touching)."""

    ink: np.ndarray
    labels: tuple[int, ...]
    source: str
    close: bool = False


class NumberComposer:
    """Composes numbers from MNIST digits `(N, 28, 28)` uint8 with their labels and from
    pen writers' digits (`load_pendigits`, the writers to use only); either may be empty
    (`None`), not both. `non_numbers` and `close` are the shares of drawings that are no
    number and of numbers written close."""

    def __init__(self, mnist: tuple[np.ndarray, np.ndarray] | None,
                 pen_digits: Sequence[PenDigit] | None,
                 non_numbers: float = NON_NUMBER_SHARE, close: float = CLOSE_SHARE) -> None:
        self.mnist_crops, self.mnist_labels = [], np.zeros(0, dtype=np.int64)
        if mnist is not None and len(mnist[0]):
            self.mnist_crops = [_ink_crop(image) for image in mnist[0]]
            self.mnist_labels = np.asarray(mnist[1], dtype=np.int64)
        self.by_writer: dict[int | None, list[PenDigit]] = {}
        for digit in pen_digits or ():
            self.by_writer.setdefault(digit.writer, []).append(digit)
        if not self.mnist_crops and not self.by_writer:
            raise ValueError("composing numbers needs MNIST digits or pen-drawn digits")
        self.pen_share = (0.0 if not self.by_writer else 1.0 if not self.mnist_crops
                          else PEN_SHARE)
        self.non_numbers, self.close = non_numbers, close

    def compose(self, rng: np.random.Generator) -> ComposedNumber:
        """One number (or now and then, a drawing that is none)."""
        if rng.random() < self.non_numbers:
            return _non_number(rng)
        length = int(rng.choice(MAX_DIGITS, p=LENGTH_WEIGHTS / LENGTH_WEIGHTS.sum())) + 1
        close = bool(rng.random() < self.close)
        if rng.random() < self.pen_share:
            number = self._pen_number(rng, length, close)
        else:
            number = self._mnist_number(rng, length, close)
        if rng.random() < SHEAR_SHARE:
            number = ComposedNumber(_shear(number.ink, rng.uniform(-MAX_SHEAR, MAX_SHEAR)),
                                    number.labels, number.source, number.close)
        return number

    def _pen_number(self, rng, length: int, close: bool) -> ComposedNumber:
        """A number in one pen writer's hand, drawn as the pad draws at `PAD_SCALE`."""
        from mnist_core.sources.pen_styles import restyle

        writers = list(self.by_writer)
        own = self.by_writer[writers[int(rng.integers(len(writers)))]]
        chosen = [own[i] for i in rng.integers(len(own), size=length)]
        digits = [PenDigit(d.label, tuple(restyle(d.label, d.strokes, rng)), d.writer)
                  if rng.random() < RESTYLE_SHARE else d for d in chosen]
        canvas = (round(NUMBER_PAD[0] * PAD_SCALE), round(NUMBER_PAD[1] * PAD_SCALE))
        pen = rng.uniform(*PEN_WIDTHS) * PAD_SCALE
        written = compose_number(digits, rng, canvas, pen,
                                 PEN_GAPS["close" if close else "spaced"])
        return ComposedNumber(written.image.astype(np.float32) / 255.0, written.labels,
                              PAD, close)

    def _mnist_number(self, rng, length: int, close: bool) -> ComposedNumber:
        """MNIST digits side by side, each scaled a little apart and moved up or down."""
        picks = rng.integers(len(self.mnist_crops), size=length)
        height = rng.uniform(*MNIST_HEIGHT)
        pieces = []
        for i in picks:
            crop = self.mnist_crops[i]
            tall = height * rng.uniform(*MNIST_SIZE_SPREAD)
            scale = tall / crop.shape[0]
            size = (max(1, round(crop.shape[1] * scale)), max(1, round(tall)))
            pieces.append(cv2.resize(crop, size, interpolation=cv2.INTER_LINEAR))
        gaps = rng.uniform(*MNIST_GAPS["close" if close else "spaced"], size=length) * height
        margin = 4
        ink = np.zeros((round(height * 1.5) + 2 * margin,
                        sum(p.shape[1] for p in pieces)
                        + max(0, round(gaps[1:].sum())) + 2 * margin), dtype=np.float32)
        x = float(margin)
        for i, piece in enumerate(pieces):
            x = max(x + (gaps[i] if i else 0.0), 0.0)
            top = round((ink.shape[0] - piece.shape[0]) / 2
                        + rng.uniform(-MNIST_JITTER, MNIST_JITTER) * height)
            top = int(np.clip(top, 0, ink.shape[0] - piece.shape[0]))
            left = int(min(round(x), ink.shape[1] - piece.shape[1]))
            region = ink[top:top + piece.shape[0], left:left + piece.shape[1]]
            np.maximum(region, piece, out=region)
            x = left + piece.shape[1]
        if rng.random() < BOLD_SHARE:
            ink = cv2.dilate(ink, np.ones((2, 2), np.uint8))
        return ComposedNumber(ink, tuple(int(self.mnist_labels[i]) for i in picks), MNIST,
                              close)


def _ink_crop(image: np.ndarray) -> np.ndarray:
    """An MNIST digit cropped to its ink, float32 in [0, 1]."""
    ink = image.astype(np.float32) / 255.0
    rows = np.flatnonzero((ink > INK_LEVEL).any(axis=1))
    cols = np.flatnonzero((ink > INK_LEVEL).any(axis=0))
    if not len(rows):
        return np.zeros((1, 1), dtype=np.float32)
    return ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _shear(ink: np.ndarray, shear: float) -> np.ndarray:
    """The ink slanted: x += shear * (centre row - y), widened to keep all of it."""
    height, width = ink.shape
    extra = int(np.ceil(abs(shear) * height))
    matrix = np.float32([[1, -shear, shear * height / 2 + extra / 2], [0, 1, 0]])
    return cv2.warpAffine(ink, matrix, (width + extra, height), flags=cv2.INTER_LINEAR)


def _non_number(rng: np.random.Generator) -> ComposedNumber:
    """A drawing that is no number (a letter, a scribble, a shape, a doodle), read as
    nothing."""
    from mnist_core.training.negatives import non_digits

    kind = NON_NUMBER_KINDS[int(rng.integers(len(NON_NUMBER_KINDS)))]
    images, _ = non_digits(1, seed=int(rng.integers(2**31)), kinds=(kind,))
    return ComposedNumber(images[0].astype(np.float32) / 255.0, (), kind)


@dataclass(frozen=True)
class NumberBatch:
    """Prepared numbers: `images` `(N, NUMBER_HEIGHT, NUMBER_WIDTH)` float32, `labels`
    `(N, MAX_DIGITS)` int32 (0 after each number's digits), `lengths` `(N,)` int32, and
    for each, where it came from and whether its digits were close."""

    images: np.ndarray
    labels: np.ndarray
    lengths: np.ndarray
    sources: tuple[str, ...]
    close: np.ndarray

    @property
    def texts(self) -> list[str]:
        return ["".join(map(str, row[:n])) for row, n in zip(self.labels, self.lengths)]

    def targets(self) -> np.ndarray:
        """`(N, 1 + MAX_DIGITS)` int32: each number's length, then its digits: what the
        CTC loss reads (`number_network.ctc_loss`)."""
        return np.concatenate([self.lengths[:, None], self.labels], axis=1)


def compose_batch(composer: NumberComposer, count: int, rng: np.random.Generator
                  ) -> NumberBatch:
    """`count` numbers prepared as the reader sees them; a drawing that prepares to
    nothing (all its ink too faint) is composed again."""
    images = np.zeros((count, NUMBER_HEIGHT, NUMBER_WIDTH), dtype=np.float32)
    labels = np.zeros((count, MAX_DIGITS), dtype=np.int32)
    lengths = np.zeros(count, dtype=np.int32)
    sources, close = [], np.zeros(count, dtype=bool)
    i = 0
    while i < count:
        number = composer.compose(rng)
        try:
            images[i] = prepare_number(number.ink).image
        except EmptyDrawingError:
            continue
        labels[i, :len(number.labels)] = number.labels
        lengths[i] = len(number.labels)
        sources.append(number.source)
        close[i] = number.close
        i += 1
    return NumberBatch(images, labels, lengths, tuple(sources), close)


def pen_numbers(digits: Sequence[PenDigit], writers: Sequence[int], count: int,
                seed: int, *, close: bool | None = None, max_digits: int = 5,
                pen_width: float = PEN_WIDTH) -> list:
    """`count` numbers of 1-`max_digits` digits written on the full-size pad by the given
    writers (`pendigits.WrittenNumber`s, one writer each), as a person writes them:
    spaced (`close=False`: `compose_number`'s own gaps), or with every neighbour's ink
    meeting or overlapping the next by up to `MAX_OVERLAP_PX` (`close=True`), or either
    (None). For held-out figures: benchmarks, validation, tests."""
    rng = np.random.default_rng(seed)
    by_writer = {w: [d for d in digits if d.writer == w] for w in writers}
    numbers = []
    while len(numbers) < count:
        own = by_writer[int(rng.choice(list(writers)))]
        length = int(rng.integers(1, max_digits + 1))
        chosen = [own[i] for i in rng.choice(len(own), size=length, replace=len(own) < length)]
        if close:
            written = compose_number(chosen, rng, pen_width=pen_width,
                                     gap_range=CLOSE_BENCH_GAPS)
            if not touching(written.boxes):
                continue
        else:
            written = compose_number(chosen, rng, pen_width=pen_width)
        numbers.append(written)
    return numbers


MAX_OVERLAP_PX = 14
CLOSE_BENCH_GAPS = (0.0, 0.12)  # stroke gaps that mostly give meeting ink boxes


def touching(boxes: Sequence[tuple[int, int, int, int]]) -> bool:
    """Whether every digit's ink box meets or overlaps the next one's by at most
    `MAX_OVERLAP_PX` (a number of one digit has no neighbours: False)."""
    if len(boxes) < 2:
        return False
    return all(-MAX_OVERLAP_PX <= right_next_left <= 0 for right_next_left in (
        boxes[i + 1][2] - boxes[i][3] for i in range(len(boxes) - 1)))


def held_out_batch(digits: Sequence[PenDigit], writers: Sequence[int], count: int,
                   seed: int) -> NumberBatch:
    """`count` numbers of 1-5 digits in the given writers' hands on the full-size pad,
    prepared as the reader sees them: the first half spaced, the rest touching
    (`pen_numbers`), each marked so."""
    spaced = pen_numbers(digits, writers, count - count // 2, seed, close=False)
    close = pen_numbers(digits, writers, count // 2, seed + 10**6, close=True)
    numbers = spaced + close
    labels = np.zeros((count, MAX_DIGITS), dtype=np.int32)
    for i, number in enumerate(numbers):
        labels[i, :len(number.labels)] = number.labels
    return NumberBatch(
        np.stack([prepare_number(n.image.astype(np.float32) / 255.0).image for n in numbers]),
        labels, np.array([len(n.labels) for n in numbers], dtype=np.int32),
        (PAD,) * count, np.arange(count) >= len(spaced))


MAX_HELD_OUT = 2000  # held-out numbers a run validates on, and as many it tests on


def held_out_numbers(digits: Sequence[PenDigit], writers: Sequence[int], *,
                     numbers_per_epoch: int, validation_split: float, seed: int
                     ) -> tuple[NumberBatch, NumberBatch]:
    """A number run's validation and test numbers, in the held-out `writers`' hands (of
    `digits`, all of them or theirs): as many as `validation_split` of an epoch (20 to
    `MAX_HELD_OUT`) each, half spaced and half touching; the same for the same seed, so
    that calibrating again later finds them again."""
    count = min(MAX_HELD_OUT, max(20, round(numbers_per_epoch * validation_split)))
    unseen = [d for d in digits if d.writer in set(writers)]
    return (held_out_batch(unseen, writers, count, seed=seed + 1),
            held_out_batch(unseen, writers, count, seed=seed + 2))
