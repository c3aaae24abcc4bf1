"""Real pen-drawn digits (UCI pendigits) rendered the way the app's drawing pad draws.

None of these digits comes from MNIST: they are stylus trajectories from 30 writers
(E. Alpaydin and F. Alimoglu, "Pen-Based Recognition of Handwritten Digits", UCI
dataset 81, 1998). Rendered white-on-black onto a 280x280 canvas with an 18 px round
pen, they show how well a model recognises digits *drawn* in the app, which is what
its users do, rather than how well it fits the MNIST test set.

Finding, downloading and reading the file is `pendigits_source`'s job; its names
(`load_pendigits`, `PenDigit`, ...) are importable from here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from mnist_core.reading.segment import NUMBER_PAD
from mnist_core.sources.pendigits_source import (
    CLASS_COUNTS,
    N_DIGITS,
    N_WRITERS,
    PENDIGITS_SHA256,
    PENDIGITS_URL,
    PENDIGITS_ZIP_URL,
    PenDigit,
    PenDigitsChecksumError,
    PenDigitsFormatError,
    PenDigitsNotFoundError,
    default_pendigits_path,
    fetch_pendigits,
    load_pendigits,
    pendigits_available,
    pendigits_cache_dir,
    writer_split,
)

CANVAS_SIZE = 280  # the app's drawing pad
PEN_WIDTH = 18  # its stroke width, px
# Size of the digit's longer bounding-box side, as a share of the canvas: a person on
# the 280 px pad writes digits from about 90 to 230 px tall (random mode), and
# `render_dataset(varied=False)` uses one fixed, typical 180 px.
SIZE_RANGE = (0.32, 0.82)
FIXED_SIZE = 180 / 280

_SUPERSAMPLE = 4  # draw at 4x and average down: 17 grey levels of anti-aliasing
_SHIFT = 4  # fractional bits of the fixed-point coordinates handed to OpenCV
_CURVE_SAMPLES = 8  # points per quadratic piece of the smoothed stroke


def _smooth(stroke: np.ndarray) -> np.ndarray:
    """Return a dense polyline along the smooth curve the drawing pad draws.

    Like the canvas's freehand brush: straight to the first midpoint, then a quadratic
    Bezier from each midpoint to the next with the recorded point as control point, then
    straight to the last point. The curve stays inside the points' convex hull.
    """
    if len(stroke) < 3:
        return stroke
    mids = (stroke[:-1] + stroke[1:]) / 2
    t = (np.arange(1, _CURVE_SAMPLES + 1) / _CURVE_SAMPLES)[None, :, None]
    start, ctrl, end = mids[:-1, None], stroke[1:-1, None], mids[1:, None]
    curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * ctrl + t**2 * end
    return np.concatenate([stroke[:1], mids[:1], curve.reshape(-1, 2), stroke[-1:]])


def render_digit(
    digit: PenDigit | Sequence[np.ndarray],
    canvas_size: int = CANVAS_SIZE,
    pen_width: float = PEN_WIDTH,
    digit_height: float | None = None,
    centre: tuple[float, float] | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Draw a digit as the drawing pad would: `(canvas_size, canvas_size)` uint8, white on black.

    Strokes are smooth curves through the recorded points, `pen_width` px wide with round
    caps and joins, anti-aliased; a one-point stroke is a dot. The digit is scaled
    uniformly so the *longer* side of its bounding box is `digit_height` px (its height
    for the ~93% of digits that are taller than wide; using the longer side keeps wide
    digits on the canvas), and the box centre lands at `centre` = (x, y) in pixel units
    (pixel centres at integers, so the canvas middle is `(canvas_size - 1) / 2`). The
    inked area is `digit_height + pen_width` px along that side.

    A missing `digit_height` is drawn uniformly from `SIZE_RANGE * canvas_size` (90-230
    px on 280) and then a missing `centre` uniformly from where the digit and its pen
    stay inside the canvas, both from `rng`. Without an `rng` the defaults are fixed:
    `FIXED_SIZE * canvas_size` (180 px on 280), centred. `digit` may also be a list of
    `(K, 2)` stroke arrays in tablet units, y downwards.
    """
    strokes = digit.strokes if isinstance(digit, PenDigit) else digit
    curves = [_smooth(np.asarray(s, dtype=np.float64).reshape(-1, 2)) for s in strokes]
    if not curves or any(len(c) == 0 for c in curves):
        raise ValueError("a digit needs at least one stroke, each with at least one point")
    if canvas_size < 1 or pen_width <= 0:
        raise ValueError(f"bad canvas_size {canvas_size} or pen_width {pen_width}")
    every = np.concatenate(curves)
    low, high = every.min(axis=0), every.max(axis=0)
    extent = high - low
    longer = float(extent.max())

    if digit_height is None:
        if rng is None:
            digit_height = FIXED_SIZE * canvas_size
        else:
            digit_height = float(rng.uniform(*SIZE_RANGE)) * canvas_size
    if digit_height < 0:
        raise ValueError(f"digit_height must not be negative, got {digit_height}")
    scale = digit_height / longer if longer > 0 else 0.0
    half = extent * scale / 2
    if centre is None:
        middle = (canvas_size - 1) / 2
        if rng is None:
            centre = (middle, middle)
        else:
            margin = pen_width / 2 + 1  # +1: anti-aliasing never touches the border
            lo = half + margin - 0.5
            hi = canvas_size - 0.5 - half - margin
            centre = (
                float(rng.uniform(lo[0], hi[0])) if lo[0] < hi[0] else middle,
                float(rng.uniform(lo[1], hi[1])) if lo[1] < hi[1] else middle,
            )
    offset = np.asarray(centre, dtype=np.float64) - (low + high) / 2 * scale
    return _draw([c * scale + offset for c in curves], canvas_size, pen_width)


def _draw(curves: list[np.ndarray], canvas_size: int | tuple[int, int], pen_width: float
          ) -> np.ndarray:
    """Rasterise pixel-space polylines with a round pen, supersampled around the ink only.
    `canvas_size` is the side of a square canvas or (height, width)."""
    height, width = (canvas_size, canvas_size) if np.isscalar(canvas_size) else canvas_size
    image = np.zeros((height, width), dtype=np.uint8)
    every = np.concatenate(curves)
    reach = pen_width / 2 + 1
    limit = np.array([width, height])
    x0, y0 = np.clip(np.floor(every.min(axis=0) - reach).astype(int), 0, limit)
    x1, y1 = np.clip(np.ceil(every.max(axis=0) + reach + 1).astype(int), 0, limit)
    if x1 <= x0 or y1 <= y0:
        return image  # the whole digit lies off the canvas
    ss = _SUPERSAMPLE
    big = np.zeros(((y1 - y0) * ss, (x1 - x0) * ss), dtype=np.uint8)
    thickness = max(1, round(pen_width * ss))
    one = 1 << _SHIFT
    origin = np.array([x0, y0], dtype=np.float64)
    for curve in curves:
        # pixel centre c at 1x is the centre of the 4x block: 4x coordinate ss*c + 1.5
        fixed = np.round(((curve - origin) * ss + (ss - 1) / 2) * one).astype(np.int32)
        if len(fixed) == 1 or not np.any(fixed != fixed[0]):
            centre_pt = (int(fixed[0, 0]), int(fixed[0, 1]))
            cv2.circle(big, centre_pt, round(thickness / 2 * one), 255, -1, cv2.LINE_8, _SHIFT)
        else:
            # OpenCV's thick polylines put a disc at every vertex: round caps and joins
            cv2.polylines(big, [fixed], False, 255, thickness, cv2.LINE_8, _SHIFT)
    small = cv2.resize(big, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    image[y0:y1, x0:x1] = small
    return image


@dataclass(frozen=True)
class WrittenNumber:
    """A number composed of pen-drawn digits on a wide canvas: the `(H, W)` uint8 image,
    its digits' labels left to right, and each digit's ink box (top, bottom, left,
    right; exclusive ends, pen included)."""

    image: np.ndarray
    labels: tuple[int, ...]
    boxes: tuple[tuple[int, int, int, int], ...]

    @property
    def text(self) -> str:
        return "".join(str(label) for label in self.labels)


def compose_number(
    digits: Sequence[PenDigit],
    rng: np.random.Generator,
    canvas: tuple[int, int] = NUMBER_PAD,
    pen_width: float = PEN_WIDTH,
    gap_range: tuple[float, float] = (0.08, 0.5),
) -> WrittenNumber:
    """Write `digits` left to right on one canvas, the way a person writes a number.

    The number gets one random digit height (35-70% of the canvas height), each digit
    varies it by up to 12% and moves up or down by up to 8% of it; the gaps between
    digits' strokes are `gap_range` times the height (the pen's width eats some of
    it, so close digits can touch). A number too wide for the canvas is written smaller.
    """
    if not digits:
        raise ValueError("a number needs at least one digit")
    canvas_h, canvas_w = canvas
    size = rng.uniform(0.35, 0.7) * canvas_h
    curves, heights = [], []
    for digit in digits:
        strokes = [_smooth(np.asarray(s, dtype=np.float64)) for s in digit.strokes]
        every = np.concatenate(strokes)
        low, high = every.min(axis=0), every.max(axis=0)
        tall = size * rng.uniform(0.88, 1.12)
        scale = tall / max(float((high - low).max()), 1.0)
        curves.append([(c - low) * scale for c in strokes])
        heights.append(tall)
    widths = [max(float(np.concatenate(c)[:, 0].max()), 0.0) for c in curves]
    gaps = [rng.uniform(*gap_range) * size for _ in digits[1:]]
    margin = pen_width / 2 + 2
    total = sum(widths) + sum(gaps)
    shrink = min(1.0, (canvas_w - 2 * margin) / total, (canvas_h - 2 * margin) / max(
        float(np.concatenate(c)[:, 1].max()) for c in curves
    ) / 1.2)
    x = rng.uniform(margin, max(margin, canvas_w - margin - total * shrink))
    baseline = rng.uniform(margin, max(margin, canvas_h - margin - size * 1.1 * shrink))
    placed = []
    for i, strokes in enumerate(curves):
        jitter = rng.uniform(-0.08, 0.08) * size
        y = np.clip(baseline + jitter * shrink, margin, None)
        placed.append([c * shrink + (x, y) for c in strokes])
        x += (widths[i] + (gaps[i] if i < len(gaps) else 0.0)) * shrink
    everything = [c for strokes in placed for c in strokes]
    image = _draw(everything, canvas, pen_width)
    boxes = []
    for strokes in placed:
        every = np.concatenate(strokes)
        (left, top), (right, bottom) = every.min(axis=0), every.max(axis=0)
        half = pen_width / 2
        boxes.append((
            max(0, int(np.floor(top - half))), min(canvas_h, int(np.ceil(bottom + half)) + 1),
            max(0, int(np.floor(left - half))), min(canvas_w, int(np.ceil(right + half)) + 1),
        ))
    return WrittenNumber(image, tuple(d.label for d in digits), tuple(boxes))


def render_dataset(
    digits: Sequence[PenDigit],
    seed: int = 0,
    canvas_size: int = CANVAS_SIZE,
    pen_width: float = PEN_WIDTH,
    varied: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Render digits to drawing-pad images: `(N, H, W)` uint8 images and `(N,)` uint8 labels.

    `varied=True` draws each digit's size and position from one generator seeded with
    `seed` (see `render_digit`), like different people on the pad; `varied=False` puts
    every digit at the fixed 180/280 size in the middle. Same seed, same images. The
    full file at 280 px takes ~590 MB.
    """
    rng = np.random.default_rng(seed) if varied else None
    images = np.empty((len(digits), canvas_size, canvas_size), dtype=np.uint8)
    labels = np.empty(len(digits), dtype=np.uint8)
    for i, digit in enumerate(digits):
        images[i] = render_digit(digit, canvas_size, pen_width, rng=rng)
        labels[i] = digit.label
    return images, labels


def drawn_training_set(
    digits: Sequence[PenDigit],
    renders: int = 3,
    seed: int = 0,
    pen_widths: tuple[float, float] = (10.0, 26.0),
    styles: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Prepared 28x28 training images of pen-drawn digits, as the pad would send them.

    Each digit is rendered `renders` times at a random size, position and pen width
    (drawn from `pen_widths`), then passed through `canvas_to_mnist`, the drawing pad's
    own path. With `styles`, every render but the first is first rewritten by
    `pen_styles.restyle` (flagged 1s, crossed 7s, open 4s, straight-tailed 9s, slant,
    stretch, wobble). Returns `(N * renders, 28, 28)` float32 images and uint8 labels.
    """
    from mnist_core.reading.preprocess import canvas_to_mnist
    from mnist_core.sources.pen_styles import restyle

    rng = np.random.default_rng(seed)
    images = np.empty((len(digits) * renders, 28, 28), dtype=np.float32)
    labels = np.empty(len(digits) * renders, dtype=np.uint8)
    for i, digit in enumerate(d for d in digits for _ in range(renders)):
        pen_width = float(rng.uniform(*pen_widths))
        strokes = digit if not styles or i % renders == 0 else restyle(
            digit.label, digit.strokes, rng
        )
        images[i] = canvas_to_mnist(render_digit(strokes, CANVAS_SIZE, pen_width, rng=rng))
        labels[i] = digit.label
    return images, labels


__all__ = [
    "CANVAS_SIZE",
    "CLASS_COUNTS",
    "N_DIGITS",
    "N_WRITERS",
    "PEN_WIDTH",
    "PENDIGITS_SHA256",
    "PENDIGITS_URL",
    "PENDIGITS_ZIP_URL",
    "PenDigit",
    "PenDigitsChecksumError",
    "PenDigitsFormatError",
    "PenDigitsNotFoundError",
    "WrittenNumber",
    "compose_number",
    "default_pendigits_path",
    "drawn_training_set",
    "fetch_pendigits",
    "load_pendigits",
    "pendigits_available",
    "pendigits_cache_dir",
    "render_dataset",
    "render_digit",
    "writer_split",
]
