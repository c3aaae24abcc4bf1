"""Stroke-level variations of pen-drawn digits: the ways of writing MNIST lacks.

People on the pad write continental 1s with a long up-stroke flag, 7s with a crossbar,
4s with an open top and 9s with a straight tail; digits scanned for MNIST rarely do, and
a model trained on them reads such a 1 as a 7 or such a 9 as a 3. `restyle` takes a
pendigits trajectory and, at random, rewrites it in one of those styles, then slants,
stretches and wobbles the whole digit, so the rendered training drawings cover hands
that no pendigits writer has. Coordinates are tablet units (0-500), y downwards.
"""

from __future__ import annotations

import math

import numpy as np

# Share of the digits of a class with a style of their own that get rewritten in it.
STYLE_SHARE = 0.5
MAX_SLANT = 0.35  # x += slant * (y - centre): a forward or backward lean
WIDTH_RANGE = (0.75, 1.25)  # horizontal stretch against the height
WOBBLE = 0.012  # point jitter, as a share of the digit's height


def restyle(label: int, strokes, rng: np.random.Generator) -> list[np.ndarray]:
    """Return new strokes: maybe the label's style, then slant, stretch and wobble."""
    strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2).copy() for s in strokes]
    style = _STYLES.get(label)
    if style is not None and rng.random() < STYLE_SHARE:
        strokes = style(strokes, rng)
    return _reshape(strokes, rng)


def flag_one(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """A continental 1: lengthen the up-stroke flag to the top, or add one."""
    top, height = _top_and_height(strokes)
    stroke = strokes[0]
    peak = int(np.argmin(stroke[:, 1]))
    length = height * rng.uniform(0.25, 0.6)
    if peak > 0 and stroke[0, 0] < stroke[peak, 0]:  # it has a flag: stretch it
        flag = stroke[: peak + 1]
        reach = float(np.linalg.norm(flag[0] - flag[peak]))
        factor = rng.uniform(1.2, 2.2)
        if reach > 0:  # never longer than 70% of the height
            factor = min(factor, max(1.0, 0.7 * height / reach))
        stroke[:peak] = flag[peak] + (flag[:peak] - flag[peak]) * factor
        return strokes
    angle = math.radians(rng.uniform(15, 55))  # below the horizontal
    start = top + length * np.array([-math.cos(angle), math.sin(angle)])
    flag = np.linspace(start, top, 6)[:-1]
    if peak == 0:
        strokes[0] = np.concatenate([flag, stroke])
    else:
        strokes.insert(0, np.concatenate([flag, top[None]]))
    return strokes


def cross_seven(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """A 7 with a short bar across the middle of its stem (unless it has one)."""
    if len(strokes) > 1:
        return strokes
    every = np.concatenate(strokes)
    low, high = every.min(axis=0), every.max(axis=0)
    height, width = high[1] - low[1], high[0] - low[0]
    level = low[1] + height * rng.uniform(0.45, 0.62)
    stem_x = _x_where_crossing(strokes[0], level)
    if stem_x is None:
        return strokes
    half = max(width, 0.4 * height) * rng.uniform(0.18, 0.35)
    tilt = half * rng.uniform(-0.15, 0.15)
    bar = np.linspace([stem_x - half, level + tilt], [stem_x + half, level - tilt], 5)
    return strokes + [bar]


def open_four(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """A 4 in two strokes: raise the stem's top and pull the arm away from it."""
    if len(strokes) != 2:
        return strokes
    arm, stem = strokes
    height = np.ptp(np.concatenate(strokes)[:, 1])
    bottom = stem[:, 1].max()
    stem[:, 1] = bottom - (bottom - stem[:, 1]) * rng.uniform(1.0, 1.25)
    arm[:, 0] -= height * rng.uniform(0.0, 0.12) * (arm[:, 1].max() - arm[:, 1]) / max(
        np.ptp(arm[:, 1]), 1.0
    )
    return strokes


def straighten_nine(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """A 9 whose tail runs straight down from the loop instead of curving."""
    top, height = _top_and_height(strokes)
    bottom = top[1] + height
    index = max(range(len(strokes)), key=lambda i: strokes[i][:, 1].max())
    stroke = strokes[index]
    lowest = int(np.argmax(stroke[:, 1]))
    above = np.flatnonzero(stroke[:lowest, 1] <= top[1] + height * 0.5)
    if len(above) == 0 or lowest < len(stroke) - 3:
        return strokes  # drawn from the tail up, or the tail is not the end: leave it
    start = stroke[above[-1]]
    lean = height * rng.uniform(-0.08, 0.12)
    tail = np.linspace(start, [start[0] - lean, bottom], 6)[1:]
    strokes[index] = np.concatenate([stroke[: above[-1] + 1], tail])
    return strokes


_STYLES = {1: flag_one, 4: open_four, 7: cross_seven, 9: straighten_nine}


def _reshape(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Slant, stretch sideways and wobble every point a little."""
    every = np.concatenate(strokes)
    centre = (every.min(axis=0) + every.max(axis=0)) / 2
    height = max(float(np.ptp(every[:, 1])), 1.0)
    slant = rng.uniform(-MAX_SLANT, MAX_SLANT)
    stretch = rng.uniform(*WIDTH_RANGE)
    out = []
    for stroke in strokes:
        moved = stroke - centre
        moved[:, 0] = (moved[:, 0] + slant * moved[:, 1]) * stretch
        moved += rng.normal(0.0, WOBBLE * height, moved.shape)
        out.append(moved + centre)
    return out


def _top_and_height(strokes: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """The topmost point of the digit and its height."""
    every = np.concatenate(strokes)
    top = every[np.argmin(every[:, 1])].copy()
    return top, float(np.ptp(every[:, 1]))


def _x_where_crossing(stroke: np.ndarray, level: float) -> float | None:
    """x of the last place the stroke crosses the height `level`, or None."""
    y = stroke[:, 1]
    crossings = np.flatnonzero((y[:-1] - level) * (y[1:] - level) <= 0)
    if len(crossings) == 0:
        return None
    i = crossings[-1]
    dy = y[i + 1] - y[i]
    share = 0.5 if dy == 0 else (level - y[i]) / dy
    return float(stroke[i, 0] + share * (stroke[i + 1, 0] - stroke[i, 0]))


__all__ = ["STYLE_SHARE", "cross_seven", "flag_one", "open_four", "restyle", "straighten_nine"]
