"""Find, download and read the UCI pendigits file: real pen trajectories of digits.

The digits are stylus trajectories from 30 writers (E. Alpaydin and F. Alimoglu,
"Pen-Based Recognition of Handwritten Digits", UCI dataset 81, 1998); `pendigits`
draws them the way the app's drawing pad draws.

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

import numpy as np

from mnist_core.errors import DatasetError
from mnist_core.sources.lzw import MAGIC as LZW_MAGIC
from mnist_core.sources.lzw import unlzw

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
SHARED_COPY = Path(__file__).resolve().parents[3] / "shared" / "pendigits" / FILE_NAME
DOWNLOAD_TIMEOUT = 60  # seconds without data before a download gives up

TABLET_SIZE = 500  # side of the tablet box each digit was written in
CLASS_COUNTS = (780, 779, 780, 719, 780, 720, 720, 778, 719, 719)  # full file, digits 0-9
N_DIGITS = sum(CLASS_COUNTS)  # 7,494
N_WRITERS = 30

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


__all__ = [
    "CLASS_COUNTS",
    "FILE_NAME",
    "N_DIGITS",
    "N_WRITERS",
    "PENDIGITS_SHA256",
    "PENDIGITS_URL",
    "PENDIGITS_ZIP_URL",
    "TABLET_SIZE",
    "PenDigit",
    "PenDigitsChecksumError",
    "PenDigitsFormatError",
    "PenDigitsNotFoundError",
    "default_pendigits_path",
    "fetch_pendigits",
    "load_pendigits",
    "pendigits_available",
    "pendigits_cache_dir",
    "writer_split",
]
