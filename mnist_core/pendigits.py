"""Real pen-drawn digits (UCI pendigits) rendered the way the app's drawing pad draws.

None of these digits comes from MNIST: they are stylus trajectories from 30 writers
(E. Alpaydin and F. Alimoglu, "Pen-Based Recognition of Handwritten Digits", UCI
dataset 81, 1998). Rendered white-on-black onto a 280x280 canvas with an 18 px round
pen, they show how well a model recognises digits *drawn* in the app, which is what
its users do, rather than how well it fits the MNIST test set.

`load_pendigits()` finds the file the way `data.load_mnist` finds MNIST: `$PENDIGITS_PATH`,
else the project's shared copy beside the checkout, else a copy cached beside Keras's
MNIST (`~/.keras/datasets`), else it downloads it once from UCI and caches it.

The file is in the UNIPEN text format::

    .SEGMENT DIGIT 6-7 ? "4"      one sample; 6-7 = indices of its strokes in the file
    .COMMENT 4  1  117            label, writer (1-30), sample number of that writer
    .PEN_DOWN                     a stroke: one "x y" line per point, then .PEN_UP
     277  306
    .PEN_UP
    .DT 100                       pause between strokes (ignored)

Tablet coordinates: each digit lies in a 500x500 box and y grows upwards, so the loader
flips y (``y -> 500 - y``) to make it grow downwards like image rows.

The `.COMMENT` fields are not documented with the data; reading them as label, writer
and sample number is inferred from the file: the first always equals the label, the
second takes exactly the values 1-30 with 247-250 samples each (the 30 writers, 250
digits apiece, 6 missing), and every (writer, sample number) pair occurs once.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import os
import re
import tempfile
import urllib.request
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mnist_core.errors import DatasetError
from mnist_core.lzw import MAGIC as LZW_MAGIC
from mnist_core.lzw import unlzw
from mnist_core.segment import NUMBER_PAD

PATH_ENV = "PENDIGITS_PATH"  # a local copy of the file, used as is
URL_ENV = "PENDIGITS_URL"  # a download address to use instead of UCI's
FILE_NAME = "pendigits-orig.tra"
# The original UNIPEN trajectories of writers 1-30 as UCI has served them since 1998,
# compressed with Unix `compress`; UCI's newer archive of dataset 81 holds the same .Z.
PENDIGITS_URL = (
    "https://archive.ics.uci.edu/ml/machine-learning-databases/pendigits/pendigits-orig.tra.Z"
)
PENDIGITS_ZIP_URL = (
    "https://archive.ics.uci.edu/static/public/81/pen+based+recognition+of+handwritten+digits.zip"
)
PENDIGITS_SHA256 = "a66225d68d7d68591e62944df1ad33b3f5aa608e2df2505844b41f5568a80da4"
# The project's copy beside the checkout, so CI and tests never download.
SHARED_COPY = Path(__file__).resolve().parents[2] / "shared" / "pendigits" / FILE_NAME
DOWNLOAD_TIMEOUT = 60  # seconds without data before a download gives up

TABLET_SIZE = 500  # side of the tablet box each digit was written in
CLASS_COUNTS = (780, 779, 780, 719, 780, 720, 720, 778, 719, 719)  # full file, digits 0-9
N_DIGITS = sum(CLASS_COUNTS)  # 7,494
N_WRITERS = 30

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

_SEGMENT_RE = re.compile(r'^\.SEGMENT\s+DIGIT\s+(\d+)(?:-(\d+))?\s+\S+\s+"(\d)"\s*$')
_WRITER_COMMENT_RE = re.compile(r"^\.COMMENT\s+(\d)\s+(\d+)\s+(\d+)\s*$")
_POINT_RE = re.compile(r"^\s*(-?\d+(?:\.\d*)?)\s+(-?\d+(?:\.\d*)?)\s*$")


class PenDigitsFormatError(DatasetError, ValueError):
    """The pendigits file is not valid UNIPEN as this loader reads it."""


class PenDigitsNotFoundError(DatasetError, FileNotFoundError):
    """The pendigits file does not exist and cannot be downloaded."""


class PenDigitsChecksumError(DatasetError, ValueError):
    """A downloaded pendigits file is not the one this project was built on."""


@dataclass(frozen=True, eq=False)
class PenDigit:
    """One handwritten digit as the pen drew it.

    `strokes` holds one read-only `(K, 2)` float64 array of (x, y) per pen-down stroke,
    in tablet units (0-500) with y growing downwards like image rows. `writer` is the
    writer's number (1-30) taken from the sample's `.COMMENT` line, or None when the
    file does not give it. Equality is identity (the arrays make `==` ambiguous).
    """

    label: int
    strokes: tuple[np.ndarray, ...]
    writer: int | None = None


def default_pendigits_path() -> Path:
    """Where `load_pendigits()` reads: `$PENDIGITS_PATH`, else the shared copy beside the
    checkout if it exists, else the download cache (which may not exist yet)."""
    env = os.environ.get(PATH_ENV)
    if env:
        return Path(env)
    if SHARED_COPY.is_file():
        return SHARED_COPY
    return pendigits_cache_dir() / FILE_NAME


def pendigits_available() -> bool:
    """True when `load_pendigits()` can work without a download."""
    return default_pendigits_path().is_file()


def pendigits_cache_dir() -> Path:
    """The folder where Keras caches MNIST: `$KERAS_HOME/datasets`, else
    `~/.keras/datasets`, or `/tmp/.keras/datasets` when that is not writable."""
    home = os.environ.get("KERAS_HOME")
    if home:
        base = Path(home).expanduser()
    else:
        user = Path("~").expanduser()
        base = (user if os.access(user, os.W_OK) else Path("/tmp")) / ".keras"
    if base.exists() and not os.access(base, os.W_OK):
        base = Path(tempfile.gettempdir()) / ".keras"  # as keras.utils.get_file does
    return base / "datasets"


def fetch_pendigits(url: str | None = None, sha256: str = PENDIGITS_SHA256) -> Path:
    """Return the path of a local pendigits file, downloading it once if need be.

    Looks at `$PENDIGITS_PATH` (a missing file there is an error), then the shared copy,
    then the cache (`pendigits_cache_dir()`). Otherwise downloads `url` (default
    `$PENDIGITS_URL`, else `PENDIGITS_URL`, then `PENDIGITS_ZIP_URL`): a `.Z`, a zip
    holding the file, or the plain text. The text must have SHA-256 `sha256`; it is
    written to the cache under a temporary name and renamed, so the cache never holds a
    partial or wrong file. Raises `PenDigitsNotFoundError` when no download works and
    `PenDigitsChecksumError` when the file is not the expected one.
    """
    path = default_pendigits_path()
    if path.is_file():
        return path
    if os.environ.get(PATH_ENV):
        raise PenDigitsNotFoundError(f"pendigits file not found: {path} (from {PATH_ENV})")
    url = url or os.environ.get(URL_ENV)
    source, text = _download([url] if url else [PENDIGITS_URL, PENDIGITS_ZIP_URL])
    actual = hashlib.sha256(text).hexdigest()
    if actual != sha256:
        raise PenDigitsChecksumError(
            f"the pendigits file downloaded from {source} has SHA-256 {actual}, expected "
            f"{sha256}; it was not cached. Set {PATH_ENV} to a good copy of {FILE_NAME}."
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{FILE_NAME}.", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as part:
            part.write(text)
        os.chmod(temp, 0o644)  # mkstemp makes it private; a cache others may read
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _download(urls: Sequence[str]) -> tuple[str, bytes]:
    """The first of `urls` that gives a pendigits file, and its text, unpacked."""
    failures = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
                data = response.read()
        except (OSError, http.client.HTTPException, ValueError) as err:
            failures.append(f"{url}: {err}")
            continue
        try:
            return url, _unpack(data)
        except (ValueError, zipfile.BadZipFile) as err:
            failures.append(f"{url}: not a {FILE_NAME} file ({err})")
    raise PenDigitsNotFoundError(
        f"{FILE_NAME} is not on this machine and could not be downloaded "
        f"({'; '.join(failures)}). Set {PATH_ENV} to a copy of {FILE_NAME} (UCI dataset "
        f"81, \"Pen-Based Recognition of Handwritten Digits\"), or allow the download "
        f"from {' or '.join(urls)}."
    )


def _unpack(data: bytes) -> bytes:
    """`data` itself, or the file inside it when it is `.Z` or a zip holding `FILE_NAME`."""
    if data.startswith(LZW_MAGIC):
        return unlzw(data)
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = {Path(n).name: n for n in archive.namelist()}
            for name in (FILE_NAME, FILE_NAME + ".Z"):
                if name in names:
                    return _unpack(archive.read(names[name]))
        raise ValueError(f"the zip holds neither {FILE_NAME} nor {FILE_NAME}.Z")
    return data


def load_pendigits(path: str | os.PathLike[str] | None = None) -> list[PenDigit]:
    """Read every digit of a UNIPEN pendigits file, in file order.

    `path` defaults to `fetch_pendigits()`, which may download the file once. Raises
    `PenDigitsNotFoundError` (a `FileNotFoundError`) when the file is missing and
    `PenDigitsFormatError` (a `ValueError`) naming the file and line when it is
    malformed. Header and unknown `.KEYWORD` lines are skipped; `.DT` pauses are ignored.
    """
    file = Path(path) if path is not None else fetch_pendigits()
    if not file.is_file():
        raise PenDigitsNotFoundError(f"pendigits file not found: {file}")
    with file.open(encoding="ascii", errors="replace") as handle:
        return _parse(handle, file)


def _parse(lines: Iterable[str], file: Path) -> list[PenDigit]:
    """Parse UNIPEN lines into digits; see `load_pendigits`."""
    digits: list[PenDigit] = []
    label: int | None = None  # label of the open segment, None before the first one
    declared = 0  # strokes its .SEGMENT line announces
    segment_line = 0
    writer: int | None = None
    strokes: list[np.ndarray] = []
    points: list[tuple[float, float]] | None = None  # the stroke being drawn, if any

    def fail(lineno: int, message: str) -> PenDigitsFormatError:
        return PenDigitsFormatError(f"{file}, line {lineno}: {message}")

    def close_segment(lineno: int) -> None:
        if label is None:
            return
        if not strokes:
            raise fail(segment_line, f'digit "{label}" has no strokes')
        if len(strokes) != declared:
            raise fail(
                segment_line,
                f"segment announces {declared} stroke(s) but {len(strokes)} follow "
                f"(up to line {lineno})",
            )
        digits.append(PenDigit(label=label, strokes=tuple(strokes), writer=writer))

    lineno = 0
    for lineno, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("."):
            if points is None:
                raise fail(lineno, f"point {line!r} outside a .PEN_DOWN/.PEN_UP stroke")
            match = _POINT_RE.match(line)
            if match is None:
                raise fail(lineno, f"expected an 'x y' point, got {line!r}")
            points.append((float(match.group(1)), TABLET_SIZE - float(match.group(2))))
            continue
        keyword = line.split(maxsplit=1)[0]
        if keyword == ".PEN_DOWN":
            if points is not None:
                raise fail(lineno, ".PEN_DOWN while the pen is already down")
            if label is None:
                raise fail(lineno, ".PEN_DOWN before the first .SEGMENT")
            points = []
        elif keyword == ".PEN_UP":
            if points is None:
                raise fail(lineno, ".PEN_UP without a .PEN_DOWN")
            if not points:
                raise fail(lineno, "stroke with no points")
            stroke = np.array(points, dtype=np.float64)
            stroke.setflags(write=False)
            strokes.append(stroke)
            points = None
        elif points is not None:
            raise fail(lineno, f"{keyword} inside a stroke (missing .PEN_UP)")
        elif keyword == ".SEGMENT":
            match = _SEGMENT_RE.match(line)
            if match is None:
                raise fail(lineno, f'expected \'.SEGMENT DIGIT <n>[-<m>] ? "<0-9>"\', got {line!r}')
            close_segment(lineno)
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) is not None else first
            if last < first:
                raise fail(lineno, f"stroke range {first}-{last} runs backwards")
            label, declared, segment_line = int(match.group(3)), last - first + 1, lineno
            writer, strokes = None, []
        elif keyword == ".COMMENT" and label is not None and not strokes:
            # pendigits writes ".COMMENT <label> <writer> <sample no.>" after .SEGMENT
            match = _WRITER_COMMENT_RE.match(line)
            if match is not None and int(match.group(1)) == label:
                writer = int(match.group(2))
        # anything else (.INCLUDE, .LEXICON, .HIERARCHY, .DT, other comments) is skipped
    if points is not None:
        raise fail(lineno, "file ends inside a stroke (missing .PEN_UP)")
    close_segment(lineno)
    if not digits:
        raise PenDigitsFormatError(f"{file}: no .SEGMENT DIGIT samples found")
    return digits


def writer_split(
    digits: Sequence[PenDigit],
    test_writers: Iterable[int] | None = None,
    *,
    test_fraction: float = 0.2,
    seed: int = 0,
) -> tuple[list[PenDigit], list[PenDigit]]:
    """Split digits into (train, test) so that no writer appears in both.

    A per-writer split measures how well a model does on a *new* person's hand, which a
    random split (same writers on both sides) overstates. `test_writers` names the test
    writers; otherwise `round(test_fraction * n_writers)` (at least 1) are drawn with
    `seed`. Raises `ValueError` when a digit has no writer id.
    """
    if any(d.writer is None for d in digits):
        raise ValueError("writer_split needs writer ids, and some digits have none")
    writers = sorted({d.writer for d in digits if d.writer is not None})
    if test_writers is None:
        if not 0 < test_fraction < 1:
            raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
        count = min(len(writers) - 1, max(1, round(test_fraction * len(writers))))
        if count < 1:
            raise ValueError("need at least two writers to split by writer")
        chosen = np.random.default_rng(seed).choice(writers, size=count, replace=False)
        test_set = {int(w) for w in chosen}
    else:
        test_set = set(test_writers)
        unknown = test_set - set(writers)
        if unknown:
            raise ValueError(f"writers {sorted(unknown)} do not occur in the data")
    train = [d for d in digits if d.writer not in test_set]
    test = [d for d in digits if d.writer in test_set]
    return train, test


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
    from mnist_core.pen_styles import restyle
    from mnist_core.preprocess import canvas_to_mnist

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
