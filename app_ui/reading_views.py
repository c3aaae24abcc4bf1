"""What the Draw page shows of a reading: the ten probability bars, the digits the model
saw, enlarged, and where a written number was cut; and the script that has a tab load
what its first reading shows before that reading arrives.

The bars are plain HTML (`st.html`), not a chart: they need no JavaScript bundle, so the
first drawing in a tab shows its bars as soon as the reading arrives, as the next ones
do, and they stay a compact strip that fits beside or under the pad on a phone. Nothing
here imports Streamlit or Plotly.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Sequence
from html import escape
from pathlib import Path

import numpy as np

DIGITS = [str(d) for d in range(10)]
HIGHLIGHT = "#FF4B4B"  # Streamlit's primary red: the digit the app names
MUTED = "#8A94A6"
BARS_CLASS = "digit-bars"  # what browser tests and benchmarks look for
BAR_CLASS = "digit-bar"
_TRACK = "rgba(138, 148, 166, 0.16)"  # the empty 0-100% column, on light and dark themes


# Streamlit's browser app fetches an element's code (a JavaScript module of its own) the
# first time a tab shows one. The empty Draw page shows no metric and no image, so a
# tab's first reading fetched both (and what they import) after it arrived, and its
# Prediction came 0.1-0.3 s later than the next ones'. These are the modules' names.
# st.metric, st.image, st.pills, and st.toggle ("Why did it say that?") with its styles
READING_ELEMENTS = ("Metric", "ImageList", "ButtonGroup", "Checkbox", "checkboxIndicatorStyles")
PRELOAD_MARK = "data-preload-elements"  # on the script: what hides its empty element


def probability_vector(probabilities) -> np.ndarray:
    """Ten finite class probabilities as a float vector, or a ValueError."""
    p = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    if p.shape != (10,):
        raise ValueError(f"expected 10 class probabilities, got shape {np.shape(probabilities)}")
    if not np.isfinite(p).all():
        raise ValueError("class probabilities must be finite")
    return p


def probability_bars_html(probabilities, named: int | None, *, height: int = 96,
                          title: str | None = None) -> str:
    """Ten bars, digits 0-9, each in a column that stands for 0-100%, the digit `named`
    highlighted (None: the app names none, so no bar stands out as its pick).

    The columns' sizes never depend on the values, so the bars grow and shrink in place
    from one stroke to the next. Each bar carries its digit and probability as data
    attributes, and the whole strip a spoken summary for screen readers.
    """
    p = probability_vector(probabilities)
    columns = "".join(_bar(d, float(v), d == named, height) for d, v in enumerate(p))
    summary = ", ".join(f"{d}: {v:.0%}" for d, v in enumerate(p))
    heading = (f'<div style="text-align:center;font-weight:600;margin-bottom:2px">'
               f"{escape(title)}</div>" if title is not None else "")
    return (
        f'<div class="{BARS_CLASS}" role="img" aria-label="Probability of each digit: '
        f'{summary}" data-named="{"" if named is None else named}" '
        'style="min-width:150px;flex:1 1 0;font-size:12px;line-height:1.2">'
        f'{heading}<div style="display:flex;gap:3px;align-items:flex-end">{columns}</div>'
        '</div>'
    )


def _bar(digit: int, value: float, named: bool, height: int) -> str:
    colour = HIGHLIGHT if named else MUTED
    label = f"{value:.0%}" if value >= 0.005 else ""
    share = min(max(value, 0.0), 1.0) * 100
    return (
        f'<div class="{BAR_CLASS}" data-digit="{digit}" data-probability="{value:.6f}" '
        'style="flex:1 1 0;display:flex;flex-direction:column;align-items:center;min-width:0">'
        f'<span style="font-size:11px;height:14px;white-space:nowrap;'
        f'color:{colour if named else "inherit"}">{label}</span>'
        f'<div style="width:100%;height:{height}px;background:{_TRACK};border-radius:3px;'
        'display:flex;align-items:flex-end;overflow:hidden">'
        f'<div style="width:100%;height:{share:.2f}%;background:{colour};'
        'border-radius:3px 3px 0 0;transition:height 0.15s ease-out"></div></div>'
        f'<span style="font-size:14px;font-weight:{700 if named else 400}">{digit}</span>'
        '</div>'
    )


def number_bars_html(probabilities: Sequence, labels: Sequence, *, height: int = 70) -> str:
    """One strip of ten bars per digit of a written number, left to right, wrapping on a
    narrow screen, each titled with what the app reads there ("?" where it names none)
    and its named digit highlighted."""
    if not len(probabilities):
        raise ValueError("a number needs at least one digit")
    strips = "".join(
        probability_bars_html(p, label if isinstance(label, int) else None, height=height,
                              title=str(label))
        for p, label in zip(probabilities, labels)
    )
    return f'<div style="display:flex;flex-wrap:wrap;gap:14px 18px">{strips}</div>'


def number_preview(image, boxes, labels) -> np.ndarray:
    """The written number as an RGB uint8 image with a box over each digit found and
    what the app reads there ("?" where it names none) above it: where the number was
    cut. `image` is what the pad gives (RGBA, RGB or grayscale, white on black)."""
    import cv2  # only this view draws with OpenCV

    pixels = np.asarray(image)
    if pixels.ndim == 3:
        pixels = pixels[..., :3].max(axis=2)  # the pad's ink, on its black ground
    if pixels.dtype != np.uint8:
        pixels = np.round(np.clip(pixels.astype(np.float32), 0, 1) * 255).astype(np.uint8)
    rgb = np.ascontiguousarray(np.repeat((pixels * 0.6).astype(np.uint8)[..., None], 3, axis=2))
    colour = tuple(int(HIGHLIGHT[i : i + 2], 16) for i in (1, 3, 5))
    for (top, bottom, left, right), label in zip(boxes, labels):
        cv2.rectangle(rgb, (left, top), (right - 1, bottom - 1), colour, 2)
        cv2.putText(rgb, str(label), (left + 2, max(top - 6, 18)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.7, colour, 2, cv2.LINE_AA)
    return rgb


def enlarge(image, size: int = 140) -> np.ndarray:
    """A grayscale image as uint8, scaled by whole pixels to fit in `size` px.

    Nearest-neighbour repetition keeps every pixel a crisp square, so a 28x28 input
    looks like what the model gets rather than a blur; an image larger than `size` is
    thinned by a whole step instead. Floats are taken as 0-1.
    """
    pixels = np.asarray(image)
    if pixels.ndim != 2 or 0 in pixels.shape:
        raise ValueError(f"expected a 2-D grayscale image, got shape {pixels.shape}")
    if pixels.dtype != np.uint8:
        pixels = np.round(np.clip(pixels.astype(np.float32), 0, 1) * 255).astype(np.uint8)
    longest = max(pixels.shape)
    if longest > size:
        step = -(-longest // size)
        return pixels[::step, ::step]
    scale = max(1, size // longest)
    return np.repeat(np.repeat(pixels, scale, axis=0), scale, axis=1)


@functools.cache
def element_modules(names: Sequence[str] = READING_ELEMENTS) -> tuple[str, ...]:
    """The file names of these elements' modules in the installed Streamlit's browser
    app (`Metric.<hash>.js`); an element it ships no module for is left out."""
    spec = importlib.util.find_spec("streamlit")  # found, not imported
    if spec is None or not spec.submodule_search_locations:
        return ()
    folder = Path(spec.submodule_search_locations[0]) / "static" / "static" / "js"
    return tuple(sorted(path.name for name in names for path in folder.glob(f"{name}.*.js")))


def preload_html(modules: Sequence[str] | None = None) -> str | None:
    """HTML for `st.html(..., unsafe_allow_javascript=True)` whose script has the browser
    load these element modules (default: `element_modules()`) while the page waits for
    a drawing, so that the first reading shows as soon as it arrives, as the next ones
    do. They are imported from beside Streamlit's own script, the very address its app
    imports them from, so the app finds them loaded. The element takes no room. None
    where there is nothing to load."""
    modules = element_modules() if modules is None else tuple(modules)
    if not modules:
        return None
    script = (
        "(() => {const app = document.querySelector("
        "'script[type=\"module\"][src*=\"static/js/index.\"]');"
        "if (!app) return;"
        f"for (const file of {json.dumps(list(modules))})"
        " import(new URL(file, app.src).href).catch(() => {});})();"
    )
    return (
        '<style>[data-testid="stElementContainer"]:has(> [data-testid="stHtml"] > '
        f"script[{PRELOAD_MARK}]){{display:none}}</style>"
        f"<script {PRELOAD_MARK}>{script}</script>"
    )
