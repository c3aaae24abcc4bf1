"""Drawings that are not one digit, made the way the pad draws: to measure (and later
teach) when the app should say "that's not a digit".

The kinds, each a white-on-black 280x280 canvas like the pad sends:

- `letter`: handwriting-like letters that people draw instead of digits (c, e, f, h, k,
  m, n, r, u, v, w, x and A, C, E, F, H, K, L, M, N, P, R, U, V, W, X, Y) in OpenCV's
  single-stroke Hershey fonts, a pen's width thick, slanted and placed at random;
- `scribble`: one to three random smooth strokes;
- `pair`: two pen-drawn digits side by side (a number, not a digit);
- `shape`: a smiley, a star, a plus, a hash, a spiral, a zigzag, a box or a triangle;
- `touching`: two pen-drawn digits so close that their ink touches or overlaps: what a
  written number's reader must cut, not read as one digit;
- `fragment`: one side of a pen-drawn digit cut off at a column through its middle:
  what a reader gets when it cuts a single digit in two, which must lose to the whole;
- `doodle`: a picture or a sign that people draw on a pad and that is closed and round
  like a 0 or jagged like a 4: a heart, an eye, a cloud, a crescent moon, a fish, a
  house, a tree, a lightning bolt, and the signs for euro, pi, infinity, divide and
  plus-minus; each drawn in its own proportions, slightly turned;
- `symbol`: a symbol from a keyboard (= ? ! % & @ < > ~ ^ $), drawn like the letters;
- `word`: a short word of two to four lowercase letters, drawn like the letters.

`KINDS` are the four a drawing pad meets, and the default; `ALL_KINDS` add the two a
number's reader meets when it weighs cutting ink apart, and doodles. `UNTRAINED_KINDS` are what
visitors also draw that no training run may draw (`TrainConfig` accepts only
`ALL_KINDS`): how often a model refuses them tells how far its sense of "not a digit"
reaches beyond the drawings it was taught with.

Everything comes from one seeded generator: same seed, same drawings.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from mnist_core.sources.pendigits import CANVAS_SIZE, PenDigit, render_digit
from mnist_core.training.config import ALL_KINDS, KINDS, NEEDS_DIGITS

UNTRAINED_KINDS = ("symbol", "word")
LETTERS = "cefhkmnruvwxACEFHKLMNPRUVWXY"
# No symbol here looks like a digit or is drawn by the `shape` kind (plus, hash, star);
# brackets, slashes and bars are left out: drawn alone, they are fair 1s.
SYMBOLS = "=?!%&@<>~^$"
WORD_LETTERS = "abcdefghijkmnopqrstuvwxyz"  # an "l" beside an "o" is a fair 10
WORD_LENGTHS = (2, 4)
# The single-stroke Hershey fonts: one pen line per stroke, as a hand draws.
FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_PLAIN)
PEN_WIDTHS = (10.0, 26.0)
PAIR_GAP = (40.0, 160.0)  # tablet units between a pair's digits: apart
TOUCHING_GAP = (-60.0, 10.0)  # ... and touching or overlapping (the pen is ~30 wide)
FRAGMENT_INK = 40  # grey level counted as ink when cutting a fragment
FRAGMENT_KEEPS = (0.2, 0.65)  # share of the digit's ink a fragment keeps
FRAGMENT_WIDEST_ONE = 0.35  # a fragment narrower than this share of its height is a 1
DOODLES = ("heart", "eye", "cloud", "moon", "fish", "house", "tree", "lightning", "euro",
           "pi", "infinity", "divide", "plus-minus")
DOODLE_STRETCH = (0.8, 1.25)  # each side of a doodle scaled apart: its own proportions
DOODLE_TURN = 0.25  # radians either way


def non_digits(count: int, seed: int = 0, kinds: Sequence[str] = KINDS,
               digits: Sequence[PenDigit] | None = None) -> tuple[np.ndarray, list[str]]:
    """`count` non-digit drawings, `(count, 280, 280)` uint8, and the kind of each.

    Kinds take turns; `pair`, `touching` and `fragment` need pen-drawn `digits` (from
    `load_pendigits`) and are skipped without them.
    """
    kinds = [k for k in kinds if k not in NEEDS_DIGITS or digits]
    known = (*ALL_KINDS, *UNTRAINED_KINDS)
    unknown = set(kinds) - set(known)
    if unknown or not kinds:
        raise ValueError(f"kinds must be some of {known}, got {sorted(unknown) or kinds}")
    rng = np.random.default_rng(seed)
    images = np.empty((count, CANVAS_SIZE, CANVAS_SIZE), dtype=np.uint8)
    made = []
    for i in range(count):
        kind = kinds[i % len(kinds)]
        pen = float(rng.uniform(*PEN_WIDTHS))
        if kind == "letter":
            images[i] = _glyphs(rng, str(rng.choice(list(LETTERS))), pen)
        elif kind == "symbol":
            images[i] = _glyphs(rng, str(rng.choice(list(SYMBOLS))), pen)
        elif kind == "word":
            length = int(rng.integers(WORD_LENGTHS[0], WORD_LENGTHS[1] + 1))
            images[i] = _glyphs(rng, "".join(rng.choice(list(WORD_LETTERS), length)), pen)
        elif kind == "scribble":
            images[i] = render_digit(_scribble(rng), pen_width=pen, rng=rng)
        elif kind == "pair":
            images[i] = render_digit(_pair(rng, digits), pen_width=pen, rng=rng)
        elif kind == "touching":
            images[i] = render_digit(_pair(rng, digits, TOUCHING_GAP), pen_width=pen, rng=rng)
        elif kind == "fragment":
            images[i] = _fragment(rng, digits, pen)
        elif kind == "doodle":
            images[i] = render_digit(_doodle(rng), pen_width=pen, rng=rng)
        else:
            images[i] = render_digit(_shape(rng), pen_width=pen, rng=rng)
        made.append(kind)
    return images, made


def _glyphs(rng: np.random.Generator, text: str, pen: float) -> np.ndarray:
    """`text` (a letter, a symbol, a word) in a Hershey font, slanted, its ink 90-220 px
    on its longer side and its strokes about `pen` px wide there, placed at random on
    the canvas."""
    font = int(rng.choice(FONTS))
    target = float(rng.uniform(90, 220))
    angle, slant = float(rng.uniform(-15, 15)), float(rng.uniform(-0.25, 0.25))
    thin = _text_ink(text, font, 1, angle, slant)
    # drawn large, then shrunk to the target size: strokes end up about pen-wide
    thickness = max(1, round(pen * max(thin.shape) / target))
    crop = _text_ink(text, font, thickness, angle, slant)
    factor = target / max(crop.shape)
    crop = cv2.resize(crop, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    crop = crop[: CANVAS_SIZE - 2, : CANVAS_SIZE - 2]
    canvas = np.zeros((CANVAS_SIZE, CANVAS_SIZE), dtype=np.uint8)
    top = int(rng.integers(0, CANVAS_SIZE - crop.shape[0] + 1))
    left = int(rng.integers(0, CANVAS_SIZE - crop.shape[1] + 1))
    canvas[top: top + crop.shape[0], left: left + crop.shape[1]] = crop
    return canvas


def _text_ink(text: str, font: int, thickness: int, angle: float,
              slant: float) -> np.ndarray:
    """The text drawn large (240 px tall, a long word narrower), turned and slanted,
    cropped to its ink."""
    size = 640
    big = np.zeros((size, size), dtype=np.uint8)
    width, height = cv2.getTextSize(text, font, 1.0, 1)[0]
    scale = min(240 / max(height, 1), 520 / max(width, 1))
    (width, height), _ = cv2.getTextSize(text, font, scale, thickness)
    cv2.putText(big, text, ((size - width) // 2, (size + height) // 2), font, scale, 255,
                thickness, cv2.LINE_AA)
    turn = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
    turn[0, 1] += slant
    big = cv2.warpAffine(big, turn, (size, size))
    ys, xs = np.nonzero(big > 20)
    return big[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]


def _scribble(rng: np.random.Generator) -> list[np.ndarray]:
    """One to three random smooth strokes, each a short random walk."""
    strokes = []
    for _ in range(int(rng.integers(1, 4))):
        steps = rng.normal(0, 120, size=(int(rng.integers(4, 12)), 2))
        strokes.append(rng.uniform(0, 500, size=2) + np.cumsum(steps, axis=0))
    return strokes


def _pair(rng: np.random.Generator, digits: Sequence[PenDigit],
          gap: tuple[float, float] = PAIR_GAP) -> list[np.ndarray]:
    """Two pen-drawn digits side by side, `gap` apart (tablet units; below zero, the
    second starts inside the first's box)."""
    first, second = (digits[int(i)] for i in rng.integers(0, len(digits), size=2))
    strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in first.strokes]
    right = max(float(s[:, 0].max()) for s in strokes)
    others = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in second.strokes]
    left = min(float(s[:, 0].min()) for s in others)
    shift = np.array([right - left + float(rng.uniform(*gap)), rng.normal(0, 30)])
    return strokes + [s + shift for s in others]


def _fragment(rng: np.random.Generator, digits: Sequence[PenDigit], pen: float) -> np.ndarray:
    """A pen-drawn digit with the ink on one side of a column at 30-70% of its width
    wiped off. Only cuts that wipe off at least a third of the ink count (the right
    two thirds of a 3 is still a 3), and 1s and cuts that leave a narrow upright
    stroke are left out: those would read as a 1, rightly."""
    while True:
        digit = digits[int(rng.integers(0, len(digits)))]
        if digit.label == 1:
            continue
        image = render_digit(digit, pen_width=pen, rng=rng)
        ink = float(image.sum())
        ys, xs = np.nonzero(image > FRAGMENT_INK)
        column = int(xs.min() + rng.uniform(0.3, 0.7) * (xs.max() - xs.min()))
        if rng.random() < 0.5:
            image[:, column:] = 0
        else:
            image[:, :column] = 0
        ys, xs = np.nonzero(image > FRAGMENT_INK)
        if (len(xs) and FRAGMENT_KEEPS[0] <= image.sum() / ink <= FRAGMENT_KEEPS[1]
                and xs.max() - xs.min() >= FRAGMENT_WIDEST_ONE * (ys.max() - ys.min())):
            return image


def _circle(centre, radius, start=0.0, end=2 * math.pi, points=40) -> np.ndarray:
    return _arc(centre, (radius, radius), start, end, points)


def _shape(rng: np.random.Generator) -> list[np.ndarray]:
    """A simple drawing that is no digit: smiley, star, plus, hash, spiral, zigzag,
    box or triangle, in a 0-100 box."""
    kind = str(rng.choice(["smiley", "star", "plus", "hash", "spiral", "zigzag", "box",
                           "triangle"]))
    line = np.array
    if kind == "smiley":
        return [_circle((50, 50), 50), _circle((33, 35), 2, points=6),
                _circle((67, 35), 2, points=6), _circle((50, 50), 28, 0.6, math.pi - 0.6)]
    if kind == "star":
        return [line([[50 + 50 * math.cos(a), 50 + 50 * math.sin(a)],
                      [50 - 50 * math.cos(a), 50 - 50 * math.sin(a)]])
                for a in np.linspace(0, math.pi, 4, endpoint=False)]
    if kind == "plus":
        return [line([[50, 0], [50, 100]]), line([[0, 50], [100, 50]])]
    if kind == "hash":
        return [line([[35, 0], [30, 100]]), line([[70, 0], [65, 100]]),
                line([[0, 35], [100, 35]]), line([[0, 65], [100, 65]])]
    if kind == "spiral":
        t = np.linspace(0, 6 * math.pi, 120)
        return [np.stack([50 + 8 * t * np.cos(t) / math.pi, 50 + 8 * t * np.sin(t) / math.pi],
                         axis=1)]
    if kind == "zigzag":
        teeth = int(rng.integers(3, 7))
        return [np.stack([np.linspace(0, 100, 2 * teeth + 1),
                          np.tile([0, 60], teeth + 1)[: 2 * teeth + 1]], axis=1)]
    if kind == "box":
        return [line([[0, 0], [100, 0], [100, 80], [0, 80], [0, 0]])]
    return [line([[50, 0], [100, 90], [0, 90], [50, 0]])]


def _arc(centre, radii, start, end, points=48) -> np.ndarray:
    """An elliptic arc from angle `start` to `end` (radians, y down), densely pointed."""
    t = np.linspace(start, end, points)
    return np.stack([centre[0] + radii[0] * np.cos(t), centre[1] + radii[1] * np.sin(t)],
                    axis=1)


def _dense(points, step: float = 4.0) -> np.ndarray:
    """A polyline with points every `step` units, so the pad's smoothing keeps its
    corners sharp, as a hand moving along it would."""
    points = np.asarray(points, dtype=np.float64)
    out = [points[:1]]
    for start, end in zip(points[:-1], points[1:]):
        steps = max(1, int(np.ceil(np.linalg.norm(end - start) / step)))
        out.append(start + (end - start) * (np.arange(1, steps + 1) / steps)[:, None])
    return np.concatenate(out)


def _doodle(rng: np.random.Generator) -> list[np.ndarray]:
    """One of `DOODLES` in a 0-100 box, stretched apart each way and slightly turned."""
    kind = str(rng.choice(DOODLES))
    t = np.linspace(0, 2 * math.pi, 90)
    if kind == "heart":
        strokes = [np.stack([50 + 45 * np.sin(t) ** 3,
                             45 - (35 * np.cos(t) - 14 * np.cos(2 * t) - 6 * np.cos(3 * t)
                                   - 2 * np.cos(4 * t))], axis=1)]
    elif kind == "eye":
        iris = float(rng.uniform(8, 16))
        strokes = [_arc((50, 80), (60, 55), -2.3, -0.84), _arc((50, 20), (60, 55), 0.84, 2.3),
                   _arc((50, 50), (iris, iris), 0, 2 * math.pi, 30)]
    elif kind == "cloud":
        bumps = int(rng.integers(4, 8))
        radius = 35 + 8 * np.abs(np.sin(bumps * t / 2))
        strokes = [np.stack([50 + 1.4 * radius * np.cos(t), 50 + radius * np.sin(t)], axis=1)]
    elif kind == "moon":
        # a fat crescent: a thin one is a bracket, a fair 1
        # (the inner arc: the circle through both tips and (30, 50))
        tip = math.asin(50 / 72.5)
        strokes = [np.concatenate([_arc((50, 50), (50, 50), -0.5 * math.pi, -1.5 * math.pi),
                                   _arc((102.5, 50), (72.5, 72.5), math.pi - tip, math.pi + tip)])]
    elif kind == "fish":
        strokes = [np.concatenate([_arc((40, 90), (40, 60), -2.4, -0.75),
                                   _dense([[70, 48], [100, 25], [100, 75], [70, 52]]),
                                   _arc((40, 10), (40, 60), 0.75, 2.4)]),
                   _arc((18, 42), (2, 2), 0, 2 * math.pi, 6)]
    elif kind == "house":
        strokes = [_dense([[10, 100], [10, 45], [50, 5], [90, 45], [90, 100], [10, 100]]),
                   _dense([[40, 100], [40, 70], [60, 70], [60, 100]])]
    elif kind == "tree":
        strokes = [_dense([[42, 100], [42, 65]]), _dense([[58, 100], [58, 65]]),
                   _dense([[10, 65], [50, 0], [90, 65], [10, 65]])]
    elif kind == "lightning":
        strokes = [_dense([[65, 0], [25, 55], [58, 50], [30, 100], [80, 40], [48, 45], [75, 0]])]
    elif kind == "euro":
        strokes = [_arc((55, 50), (42, 48), -0.8, -2 * math.pi + 0.8),
                   _dense([[0, 40], [60, 40]]), _dense([[0, 60], [60, 60]])]
    elif kind == "pi":
        strokes = [_dense([[0, 20], [100, 18]]), _dense([[30, 20], [25, 100]]),
                   np.stack([70 + 4 * np.sin(np.linspace(0, 3, 20)), np.linspace(20, 100, 20)],
                            axis=1)]
    elif kind == "infinity":
        strokes = [np.stack([50 + 48 * np.cos(t), 50 + 22 * np.sin(2 * t)], axis=1)]
    elif kind == "divide":
        strokes = [_dense([[0, 50], [100, 50]]), _arc((50, 20), (3, 3), 0, 2 * math.pi, 8),
                   _arc((50, 80), (3, 3), 0, 2 * math.pi, 8)]
    else:  # plus-minus
        strokes = [_dense([[50, 0], [50, 65]]), _dense([[15, 32], [85, 32]]),
                   _dense([[15, 95], [85, 95]])]
    stretch = rng.uniform(*DOODLE_STRETCH, size=2)
    angle = float(rng.uniform(-DOODLE_TURN, DOODLE_TURN))
    turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return [((np.asarray(s) - 50) * stretch) @ turn.T + 50 for s in strokes]
