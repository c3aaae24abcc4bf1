"""Cut a drawing of a whole number into its digits, left to right.

People write numbers, not isolated digits. The ink of a number falls apart into
connected pieces, but not one piece per digit: a 5's flag or a 4 written in two strokes
is two pieces of one digit, a speck of the pen is none, and two digits written close
together touch and make one. `segment_number` takes the connected components of the ink,
drops specks, merges the pieces that share their columns (one above the other: the
parts of one digit) and offers every piece wide enough to be touching digits cut at
the thinnest columns near where digits would meet, as well as whole: the reader keeps
whichever way the model reads more surely. Each digit comes back as its own ink, cut
out of the drawing, ready for `preprocess.center_ink`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import cv2
import numpy as np

from mnist_core.errors import EmptyDrawingError
from mnist_core.reading.preprocess import INK_LEVEL, MIN_EXTENT_PX, MIN_INK_SHARE, is_dot

NUMBER_PAD = (240, 720)  # height, width in px of the app's pad for writing a number
NARROW_NUMBER_PAD = (200, 350)  # the same pad on a phone held upright

# A piece is a speck (dropped) when neither side reaches this share of the number's
# height: a tap of the pen, not a digit or part of one (a 5's flag is longer).
SPECK_EXTENT = 0.2
# A dot (`preprocess.is_dot`) shorter than this share of the number's height is dropped
# too: a decimal point, or a tap of a wide pen beside small digits.
DOT_SHARE = 0.5
# Two pieces are parts of one digit when the narrower one shares at least this share
# of its columns with the other.
SHARED_COLUMNS = 0.5
# A piece wider than this many times its height may be touching digits: it is also
# offered cut in two or more (the model then judges which reading is surest).
WIDEST_DIGIT = 0.65
# Up to this many times wider than tall, a piece is most likely one digit; from
# SEVERAL_DIGITS on, most likely several.
ONE_DIGIT_AT_MOST = 1.1
SEVERAL_DIGITS = 1.4
# Cuts in two are tried at this many of the thinnest columns, none nearer an end than
# this share of the width.
CUTS_IN_TWO = 3
CUT_FROM_END = 0.15
# A digit is about this wide for its height: how many digits a wide piece may hold.
DIGIT_WIDTH = 0.62
MAX_CUT = 5


@dataclass(frozen=True)
class Segment:
    """One digit's ink, cut out of the drawing: `ink` is `(H, W)` float32 in [0, 1] the
    size of `box` = (top, bottom, left, right), exclusive ends, in drawing pixels."""

    box: tuple[int, int, int, int]
    ink: np.ndarray


@dataclass(frozen=True)
class Piece:
    """A piece of the number that holds one digit or maybe several: `whole` is its ink
    read as one digit; `ways` lists every way to read it, the whole first, then (if it
    is wide) cut into 2, 3, ... touching digits, then (if it was merged from pieces
    standing in the same columns) each of those pieces as a digit. The reader keeps the
    way its model reads surest. The other ways are cut out only when first asked for:
    most pieces are read surely whole, and cutting takes longer than reading."""

    whole: Segment
    # 0 up to a width of `ONE_DIGIT_AT_MOST` times its height, rising to 1 at
    # `SEVERAL_DIGITS`: how unlikely it is that a piece this wide is one digit
    wideness: float = 0.0
    # whether it can be read any other way than whole (wide enough to cut, or merged)
    divisible: bool = False
    _other_ways: Callable[[], list[tuple[Segment, ...]]] = field(
        default=list, repr=False, compare=False
    )

    @cached_property
    def ways(self) -> tuple[tuple[Segment, ...], ...]:
        return ((self.whole,), *self._other_ways())


def segment_number(ink: np.ndarray) -> list[Piece]:
    """Split `(H, W)` white-on-black ink in [0, 1] into pieces, left to right.

    Raises `EmptyDrawingError` when there is no ink worth reading.
    """
    ink = np.asarray(ink, dtype=np.float32)
    mask = (ink > INK_LEVEL).astype(np.uint8)
    labels, parts = _components(mask)
    too_little = mask.sum() < MIN_INK_SHARE * mask.size
    if not parts or too_little or max(max(p.height, p.width) for p in parts) < MIN_EXTENT_PX:
        raise EmptyDrawingError("the drawing is empty: write a number first")
    digits = _drop_specks(parts, labels)
    if not digits:
        raise EmptyDrawingError("the drawing is only dots: write a number")
    groups = _merge_shared_columns(digits)
    line_height = max(g.height for g in groups)
    return [_piece(group, ink, labels, line_height)
            for group in sorted(groups, key=lambda g: g.centre)]


def _piece(group: _Part, ink: np.ndarray, labels: np.ndarray, line_height: int) -> Piece:
    """The group's own ink read whole, and the makings of its other ways."""
    rows, cols = slice(group.top, group.bottom), slice(group.left, group.right)
    own = np.where(_own_ink(labels[rows, cols], group.ids), ink[rows, cols], 0.0)
    tall = max(group.height, 0.75 * line_height)
    cuttable = group.width > WIDEST_DIGIT * tall
    wideness = (group.width / tall - ONE_DIGIT_AT_MOST) / (SEVERAL_DIGITS - ONE_DIGIT_AT_MOST)

    def other_ways() -> list[tuple[Segment, ...]]:
        ways = []
        for cuts in _ways_to_cut(own, tall) if cuttable else []:
            edges = [0, *cuts, own.shape[1]]
            way = [_trimmed(own[:, a:b], group.top, group.left + a)
                   for a, b in zip(edges[:-1], edges[1:]) if b > a]
            if all(segment is not None for segment in way):
                ways.append(tuple(way))
        if len(group.parts) > 1:  # merged: also offer its parts as digits of their own
            apart = [
                _trimmed(np.where(_own_ink(labels[rows, cols], part.ids), ink[rows, cols], 0.0),
                         group.top, group.left)
                for part in sorted(group.parts, key=lambda p: p.centre)
            ]
            if all(segment is not None for segment in apart):
                ways.append(tuple(apart))
        return ways

    return Piece(
        whole=Segment((group.top, group.bottom, group.left, group.right), own),
        wideness=float(np.clip(wideness, 0.0, 1.0)),
        divisible=cuttable or len(group.parts) > 1,
        _other_ways=other_ways,
    )


def _components(mask: np.ndarray) -> tuple[np.ndarray, list[_Part]]:
    """Label the mask's connected pieces (8-connected), looking only at the box around
    the ink: a number covers a fraction of a wide pad, and labelling is the slow part."""
    labels = np.zeros(mask.shape, dtype=np.int32)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if len(rows) == 0:
        return labels, []
    top, left = int(rows[0]), int(cols[0])
    inside = (slice(top, int(rows[-1]) + 1), slice(left, int(cols[-1]) + 1))
    count, labels[inside], stats, _ = cv2.connectedComponentsWithStats(
        mask[inside], connectivity=8
    )
    return labels, [_Part.from_stats(i, stats[i], top, left) for i in range(1, count)]


def _own_ink(labels: np.ndarray, ids: list[int]) -> np.ndarray:
    """Pixels of these components, with the faint anti-aliased rim around them (below
    the ink level, so in no component) that a single drawing would keep too."""
    own = labels == ids[0]
    for other in ids[1:]:  # a few ids: faster than np.isin's sort
        own |= labels == other
    rim = cv2.dilate(own.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return own | (rim & (labels == 0))


@dataclass
class _Part:
    """Connected ink pieces taken together: their component ids and box, and the
    pieces they were merged from."""

    ids: list[int]
    top: int
    bottom: int
    left: int
    right: int
    parts: list[_Part] = field(default_factory=list)  # what was merged into it

    @classmethod
    def from_stats(cls, index: int, stat, top: int = 0, left: int = 0) -> _Part:
        x, y, w, h = (int(v) for v in stat[:4])
        return cls([index], top + y, top + y + h, left + x, left + x + w)

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def centre(self) -> float:
        return (self.left + self.right) / 2

    def shared_columns(self, other: _Part) -> float:
        """Share of the narrower piece's columns that the other piece also covers."""
        overlap = min(self.right, other.right) - max(self.left, other.left)
        return max(overlap, 0) / max(1, min(self.width, other.width))

    def absorb(self, other: _Part) -> None:
        self.parts += other.parts
        self.ids += other.ids
        self.top, self.bottom = min(self.top, other.top), max(self.bottom, other.bottom)
        self.left, self.right = min(self.left, other.left), max(self.right, other.right)


def _drop_specks(parts: list[_Part], labels: np.ndarray) -> list[_Part]:
    """Drop dots of ink too small, next to the number, to be a digit or part of one, and
    dots of any size when only dots were drawn."""
    tallest = max(p.height for p in parts)
    kept = [p for p in parts if max(p.height, p.width) >= max(MIN_EXTENT_PX,
                                                              SPECK_EXTENT * tallest)]
    dots = [is_dot(labels[p.top: p.bottom, p.left: p.right] == p.ids[0]) for p in kept]
    if all(dots):
        return []
    return [p for p, dot in zip(kept, dots)
            if not dot or max(p.height, p.width) >= DOT_SHARE * tallest]


def _merge_shared_columns(pieces: list[_Part]) -> list[_Part]:
    """Merge pieces standing in the same columns until no two of them do."""
    groups = [_Part(list(p.ids), p.top, p.bottom, p.left, p.right, [p]) for p in pieces]
    merged = True
    while merged:
        merged = False
        for i, a in enumerate(groups):
            for b in groups[i + 1 :]:
                if a.shared_columns(b) >= SHARED_COLUMNS:
                    a.absorb(b)
                    groups.remove(b)
                    merged = True
                    break
            if merged:
                break
    return groups


def _ways_to_cut(ink: np.ndarray, tall: float) -> list[list[int]]:
    """Each way to cut a piece wide enough to hold touching digits, as the columns it is
    cut at: once at each of the thinnest columns and across the width, and 2..n times
    at the thinnest column near each even boundary."""
    width = ink.shape[1]
    thickness = (ink > INK_LEVEL).sum(axis=0).astype(np.float64)
    ways = [[cut] for cut in _thinnest_columns(thickness)]
    most = min(MAX_CUT, round(width / (DIGIT_WIDTH * tall)) + 1)
    ways += [_cut_into(thickness, parts) for parts in range(3, most + 1)]
    return ways


def _thinnest_columns(thickness: np.ndarray) -> list[int]:
    """Columns to try cutting a piece in two at: up to `CUTS_IN_TWO` where the ink is
    thinnest (away from the ends and apart from each other), where two touching digits
    most likely meet, and one every tenth of the width from 30% to 70%."""
    width = len(thickness)
    low, high = round(CUT_FROM_END * width), round((1 - CUT_FROM_END) * width)
    order = low + np.argsort(thickness[low:high], kind="stable")
    chosen: list[int] = []
    for column in order:
        if all(abs(int(column) - c) >= 0.1 * width for c in chosen):
            chosen.append(int(column))
        if len(chosen) == CUTS_IN_TWO:
            break
    # and a cut every tenth of the width: touching digits often overlap where they meet
    chosen += [round(share * width) for share in np.arange(0.3, 0.71, 0.1)]
    return sorted({c for c in chosen if 0 < c < width})


def _cut_into(thickness: np.ndarray, parts: int) -> list[int]:
    """The columns that cut a piece into `parts`: the thinnest near each even boundary."""
    width = len(thickness)
    cuts, start = [], 0
    for k in range(1, parts):
        guess = round(k * width / parts)
        reach = max(2, round(0.3 * width / parts))
        low, high = max(start + 1, guess - reach), min(width - 1, guess + reach)
        if low >= high:
            continue
        # the thinnest column; among equals, the one nearest the guess
        window = thickness[low:high] + np.abs(np.arange(low, high) - guess) * 1e-3
        cuts.append(low + int(np.argmin(window)))
        start = cuts[-1]
    return cuts


def _trimmed(ink: np.ndarray, top: int, left: int) -> Segment | None:
    """The ink cropped to itself, with its box in drawing pixels (None if no ink)."""
    rows = np.flatnonzero((ink > INK_LEVEL).any(axis=1))
    cols = np.flatnonzero((ink > INK_LEVEL).any(axis=0))
    if len(rows) == 0:
        return None
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    box = (top + int(r0), top + int(r1), left + int(c0), left + int(c1))
    return Segment(box, np.ascontiguousarray(ink[r0:r1, c0:c1]))


__all__ = ["NARROW_NUMBER_PAD", "NUMBER_PAD", "Piece", "Segment", "segment_number"]
