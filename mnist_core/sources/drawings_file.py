"""A visitor's drawings as one `.npz` file, to download, upload, teach a model from or
read on the command line (the fields: docs/drawings-file.md).

    data = drawings_to_bytes(Drawings.from_kept(kept))   # what the Models page offers
    drawings = read_drawings(data)                        # an upload, checked

An `.npz` is a zip of `.npy` arrays, and a small zip can unpack to gigabytes. So a file
is read the way `reading.images` reads an image: its size first; then, from the zip's
directory, each member's declared size; then each member's `.npy` header (dtype, shape),
all before a byte of array data is unpacked; then exactly as many bytes as the header
promises, parsed by numpy with pickles refused. Types, shapes and label range are
checked last. Whatever is wrong is a `DrawingsFileError` that says what.

Drawings of different sizes are stored padded with black to the largest, at the top
left, beside each one's own `sizes`; the 28x28 images are made with the one
preprocessing (`canvas_to_mnist`) where a file has none.
"""

from __future__ import annotations

import io
import math
import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.errors import DrawingsFileError, EmptyDrawingError
from mnist_core.reading.preprocess import canvas_to_mnist

FORMAT = "mnist-drawings-1"  # the `format` field of files written by this version
NOT_A_DIGIT = 10  # the label of a drawing kept as "not a digit"
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_DRAWINGS = 1000
MAX_SIDE_PX = 1120  # four drawing pads side by side
MIN_SIDE_PX = 1
# Everything the arrays of one file may unpack to, together: a thousand pad drawings
# (280x280) take 78 MB.
MAX_UNPACKED_BYTES = 128 * 1024 * 1024
MAX_MODEL_NAME = 200  # as the drawings store keeps them
MAX_MEMBERS = 16
_HEADER_LIMIT = 10_000  # bytes of one `.npy` header (numpy's own default)

# Each field: the dtype kinds it may have, and its shape given N drawings (None: the
# drawings' own height or width). `format` is a 0-d string.
_FIELDS = {
    "format": ("U", ()),
    "drawings": ("u", ("N", None, None)),
    "sizes": ("iu", ("N", 2)),
    "labels": ("iu", ("N",)),
    "images28": ("u", ("N", 28, 28)),
    "models": ("U", ("N",)),
    "created": ("f", ("N",)),
    "probabilities": ("f", ("N", 10)),
}
REQUIRED = ("drawings", "labels")


@dataclass(frozen=True, eq=False)
class Drawings:
    """Drawings with their labels, as a drawings file holds them.

    `drawings`: each the pad's grayscale image as drawn, `(H, W)` uint8, white ink on
    black; `labels`: `(N,)` 0-9, or `NOT_A_DIGIT`; `images28`: `(N, 28, 28)` uint8,
    what a model read; `models`: the model that read each ("" unknown); `created`: when
    each was kept, Unix seconds (NaN unknown); `probabilities`: `(N, 10)` float32, that
    model's reading (NaN rows unknown). Make one with `make_drawings` (which checks).
    """

    drawings: tuple[np.ndarray, ...]
    labels: np.ndarray
    images28: np.ndarray
    models: tuple[str, ...]
    created: np.ndarray
    probabilities: np.ndarray

    def __len__(self) -> int:
        return len(self.drawings)

    def per_label(self) -> np.ndarray:
        """How many drawings of each label, `(11,)`: digits 0-9, then not a digit."""
        return np.bincount(self.labels, minlength=NOT_A_DIGIT + 1)

    @classmethod
    def from_kept(cls, kept: Iterable) -> Drawings:
        """The drawings of a drawings store (`KeptDrawing`s: `drawing`, `label`,
        `image28`, `model`, `created`, `probabilities`); never their owner or id."""
        kept = list(kept)
        return make_drawings(
            [k.drawing for k in kept], [k.label for k in kept],
            images28=[k.image28 for k in kept] if kept else None,
            models=[k.model or "" for k in kept],
            created=[k.created for k in kept],
            probabilities=[_probabilities_row(k.probabilities) for k in kept],
        )


def _probabilities_row(values) -> np.ndarray:
    row = np.full(10, np.nan, np.float32)
    if values is not None and len(values) == 10:
        row[:] = values
    return row


def make_drawings(drawings: Sequence[np.ndarray], labels: Sequence[int], *,
                  images28=None, models: Sequence[str] | None = None,
                  created=None, probabilities=None) -> Drawings:
    """`Drawings`, checked (`DrawingsFileError` says what is wrong); the 28x28 images
    made with `canvas_to_mnist` where not given, the other fields left unknown."""
    if not 1 <= len(drawings) <= MAX_DRAWINGS:
        raise DrawingsFileError(f"a drawings file holds 1 to {MAX_DRAWINGS:,} drawings, "
                                f"not {len(drawings):,}")
    images = tuple(_checked_drawing(i, d) for i, d in enumerate(drawings))
    n = len(images)
    fields = {"labels": np.asarray(labels)}
    if images28 is not None:
        fields["images28"] = np.asarray(images28)
    if models is not None:
        fields["models"] = np.asarray(list(models), dtype=str) if n else np.array([], str)
    if created is not None:
        fields["created"] = np.asarray(created, dtype=np.float64)
    if probabilities is not None:
        fields["probabilities"] = np.asarray(probabilities, dtype=np.float32)
    for name, value in fields.items():
        _check_field(name, value.dtype, value.shape, n)
    return _drawings(images, fields)


def drawings_to_bytes(drawings: Drawings) -> bytes:
    """The drawings file's bytes (a compressed `.npz`; every field written)."""
    height = max(d.shape[0] for d in drawings.drawings)
    width = max(d.shape[1] for d in drawings.drawings)
    models = np.array(drawings.models, dtype=str)
    _check_unpacked(len(drawings) * (height * width + 28 * 28 + 4 * 10 + 8 + 8 + 8)
                    + models.nbytes)
    padded = np.zeros((len(drawings), height, width), np.uint8)
    for i, drawing in enumerate(drawings.drawings):
        padded[i, : drawing.shape[0], : drawing.shape[1]] = drawing
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer, format=np.array(FORMAT), drawings=padded,
        sizes=np.array([d.shape for d in drawings.drawings], np.int32),
        labels=drawings.labels.astype(np.uint8), images28=drawings.images28,
        models=models,
        created=drawings.created, probabilities=drawings.probabilities,
    )
    return buffer.getvalue()


def write_drawings(path: str | os.PathLike, drawings: Drawings) -> Path:
    """Write a drawings file at `path`; returns the path."""
    path = Path(path)
    path.write_bytes(drawings_to_bytes(drawings))
    return path


def read_drawings_file(path: str | os.PathLike) -> Drawings:
    """Read the drawings file at `path`, its size checked before it is read."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DrawingsFileError(_too_large(size))
    return read_drawings(path.read_bytes())


def read_drawings(data: bytes) -> Drawings:
    """The drawings an uploaded file holds, every size checked before it is unpacked
    (see the module's docstring); `DrawingsFileError` says what is wrong."""
    if not data:
        raise DrawingsFileError("the file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise DrawingsFileError(_too_large(len(data)))
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError):
        raise DrawingsFileError("the file is not a drawings file: an .npz (a zip of numpy "
                                "arrays) is expected") from None
    with archive:
        members = _members(archive)
        headers = {name: _header(archive, info) for name, info in members.items()}
        _check_field("drawings", *headers["drawings"][:2], 0)
        n = headers["drawings"][1][0]
        for name, (dtype, shape, _) in headers.items():
            _check_field(name, dtype, shape, n)
        arrays = {name: _unpack(archive, members[name], *headers[name]) for name in members}
    if "format" in arrays and str(arrays["format"]) != FORMAT:
        raise DrawingsFileError(f"the file is of format {str(arrays['format'])[:40]!r}, "
                                f"which this version cannot read (it reads {FORMAT!r})")
    return _from_arrays(arrays)


def _members(archive: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The fields a file holds, by name, from the zip's directory alone: what each may
    unpack to checked, members of other names ignored (never unpacked)."""
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise DrawingsFileError(f"the file holds {len(infos)} arrays; a drawings file has "
                                f"at most {len(_FIELDS)}")
    members = {}
    for info in infos:
        name = info.filename.removesuffix(".npy")
        if name not in _FIELDS:
            continue
        if name in members:
            raise DrawingsFileError(f"the file holds the field {name!r} twice")
        if info.flag_bits & 0x1:
            raise DrawingsFileError("the file is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise DrawingsFileError(f"the field {name!r} is compressed in a way numpy does "
                                    "not write (only stored or deflated)")
        members[name] = info
    missing = [name for name in REQUIRED if name not in members]
    if missing:
        raise DrawingsFileError(f"the file has no {' and no '.join(map(repr, missing))} "
                                "array: it is not a drawings file")
    _check_unpacked(sum(info.file_size for info in members.values()))
    return members


def _header(archive: zipfile.ZipFile, info: zipfile.ZipInfo
            ) -> tuple[np.dtype, tuple[int, ...], int]:
    """A member's `.npy` header, read without unpacking its data: dtype, shape and the
    header's length; refused unless header and data make exactly the member's size."""
    name = info.filename.removesuffix(".npy")
    try:
        with archive.open(info) as stream:
            version = np.lib.format.read_magic(stream)
            read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                    else np.lib.format.read_array_header_2_0)
            shape, fortran, dtype = read(stream, max_header_size=_HEADER_LIMIT)
            header_bytes = stream.tell()
    except (zipfile.BadZipFile, EOFError, OSError):  # a checksum, a cut-off stream
        raise DrawingsFileError(f"the field {name!r} is damaged: it cannot be "
                                "unpacked") from None
    except (ValueError, NotImplementedError):
        raise DrawingsFileError(f"the field {name!r} is not a numpy array (.npy)") from None
    if dtype.hasobject or fortran:
        raise DrawingsFileError(f"the field {name!r} holds Python objects or is in "
                                "Fortran order; only plain arrays are read")
    data_bytes = math.prod(shape) * dtype.itemsize
    if header_bytes + data_bytes != info.file_size:
        raise DrawingsFileError(
            f"the field {name!r} is damaged: its header promises {data_bytes:,} bytes of "
            f"data, its zip entry {info.file_size - header_bytes:,}")
    return dtype, shape, header_bytes


def _unpack(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dtype: np.dtype,
            shape: tuple[int, ...], header_bytes: int) -> np.ndarray:
    """Exactly the bytes a member's header promised, parsed by numpy, pickles refused."""
    name = info.filename.removesuffix(".npy")
    expected = header_bytes + math.prod(shape) * dtype.itemsize
    try:
        with archive.open(info) as stream:
            raw = stream.read(expected)
            if len(raw) != expected or stream.read(1):
                raise DrawingsFileError(f"the field {name!r} is damaged: it does not hold "
                                        "the data its header promises")
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as err:
        if isinstance(err, DrawingsFileError):
            raise
        raise DrawingsFileError(f"the field {name!r} is damaged: it cannot be "
                                "unpacked") from None
    return np.lib.format.read_array(io.BytesIO(raw), allow_pickle=False)


def _check_field(name: str, dtype: np.dtype, shape: tuple[int, ...], n: int) -> None:
    """Refuse a field of the wrong kind of dtype or shape for `n` drawings."""
    kinds, wanted = _FIELDS[name]
    if name == "drawings":
        if dtype != np.uint8 or len(shape) != 3:
            raise DrawingsFileError(f"'drawings' must be (N, H, W) uint8 (grayscale, white "
                                    f"on black), not {_described(dtype, shape)}")
        if not 1 <= shape[0] <= MAX_DRAWINGS:
            raise DrawingsFileError(f"a drawings file holds 1 to {MAX_DRAWINGS:,} "
                                    f"drawings, not {shape[0]:,}")
        _check_sides("the drawings", shape[1:])
        return
    if dtype.kind not in kinds or (dtype.kind != "U" and dtype.itemsize > 8) or (
            name == "images28" and dtype != np.uint8):
        raise DrawingsFileError(f"{name!r} cannot be {_described(dtype, shape)}; it is "
                                f"{_wanted(name, n)}")
    if tuple(shape) != tuple(n if size == "N" else size for size in wanted):
        raise DrawingsFileError(f"{name!r} is {_described(dtype, shape)}; for {n:,} "
                                f"drawings it must be {_wanted(name, n)}")
    if name == "models" and dtype.itemsize > 4 * MAX_MODEL_NAME:
        raise DrawingsFileError(f"'models' holds names longer than {MAX_MODEL_NAME} "
                                "characters")


def _check_sides(what: str, sides: Sequence[int]) -> None:
    height, width = (int(s) for s in sides)
    if not (MIN_SIDE_PX <= height <= MAX_SIDE_PX and MIN_SIDE_PX <= width <= MAX_SIDE_PX):
        raise DrawingsFileError(f"{what} are {height}x{width} px; each side must be "
                                f"{MIN_SIDE_PX} to {MAX_SIDE_PX} px")


def _wanted(name: str, n: int) -> str:
    kinds, shape = _FIELDS[name]
    kind = {"U": "text", "iu": "integers", "u": "uint8", "f": "floats"}[kinds]
    return f"{kind} shaped {tuple(n if s == 'N' else s for s in shape)}"


def _described(dtype: np.dtype, shape: tuple[int, ...]) -> str:
    return f"{dtype} shaped {tuple(shape)}"


def _check_unpacked(total: int) -> None:
    if total > MAX_UNPACKED_BYTES:
        raise DrawingsFileError(
            f"the drawings would unpack to {total / 2**20:,.0f} MB, more than the "
            f"{MAX_UNPACKED_BYTES / 2**20:.0f} MB limit: write fewer or smaller drawings")


def _too_large(size: int) -> str:
    return (f"the file is {size / 2**20:.1f} MB, more than the "
            f"{MAX_FILE_BYTES / 2**20:.0f} MB limit for a drawings file")


def _from_arrays(arrays: dict[str, np.ndarray]) -> Drawings:
    """The drawings of a file's checked arrays, each cut to its own size."""
    padded = arrays["drawings"]
    n = len(padded)
    sizes = arrays.get("sizes")
    if sizes is None:
        sizes = np.tile(padded.shape[1:], (n, 1))
    elif (sizes < MIN_SIDE_PX).any() or (sizes > padded.shape[1:]).any():
        raise DrawingsFileError(f"'sizes' must give each drawing's height and width, "
                                f"{MIN_SIDE_PX} px to the padded {padded.shape[1:]}")
    images = tuple(padded[i, :h, :w].copy() for i, (h, w) in enumerate(sizes.tolist()))
    fields = {name: arrays[name] for name in _FIELDS
              if name in arrays and name not in ("format", "drawings", "sizes")}
    return _drawings(images, fields)


def _drawings(images: tuple[np.ndarray, ...], fields: dict[str, np.ndarray]) -> Drawings:
    """`Drawings` from checked images and fields: labels in range, unknown fields
    filled in, the 28x28 images made where absent."""
    n = len(images)
    labels = fields["labels"]
    if labels.size and (labels.min() < 0 or labels.max() > NOT_A_DIGIT):
        bad = labels[(labels < 0) | (labels > NOT_A_DIGIT)][0]
        raise DrawingsFileError(f"a label is {int(bad)}; labels are the digits 0-9, or "
                                f"{NOT_A_DIGIT} for 'not a digit'")
    probabilities = fields.get("probabilities", np.full((n, 10), np.nan, np.float32))
    known = ~np.isnan(probabilities).any(axis=1)
    rows = probabilities[known]
    if not ((rows >= 0) & (rows <= 1)).all():
        raise DrawingsFileError("'probabilities' must lie between 0 and 1")
    images28 = fields.get("images28")
    if images28 is None:
        images28 = np.stack([_image28(i, image) for i, image in enumerate(images)])
    models = fields.get("models")
    return Drawings(
        drawings=images, labels=labels.astype(np.int64), images28=images28.astype(np.uint8),
        models=tuple(str(m) for m in models) if models is not None else ("",) * n,
        created=fields.get("created", np.full(n, np.nan)).astype(np.float64),
        probabilities=probabilities.astype(np.float32),
    )


def _checked_drawing(index: int, drawing: np.ndarray) -> np.ndarray:
    drawing = np.asarray(drawing)
    if drawing.dtype != np.uint8 or drawing.ndim != 2:
        raise DrawingsFileError(f"drawing {index} must be (H, W) uint8 (grayscale, white "
                                f"on black), not {_described(drawing.dtype, drawing.shape)}")
    _check_sides(f"drawing {index}'s sides", drawing.shape)
    return drawing


def _image28(index: int, drawing: np.ndarray) -> np.ndarray:
    """What a model reads of a drawing, as uint8 (`canvas_to_mnist`)."""
    try:
        return np.round(canvas_to_mnist(drawing) * 255).astype(np.uint8)
    except EmptyDrawingError:
        raise DrawingsFileError(f"drawing {index} holds no digit-sized ink (it is blank, "
                                "or a dot)") from None
