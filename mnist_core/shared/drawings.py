"""Drawings visitors keep from the Draw page, to teach a model their handwriting.

"Wrong? It was a 7" or "Right — keep it" keeps the pad's drawing as drawn, the 28x28
image the model read, the model and its reading, under the visitor's owner id. Every
web replica and worker sees the same drawings: they live where the rest of the shared
state does (`state.open_backend`), in `drawings.db` in the state folder or in the Redis
of `MNIST_QUEUE_URL`:

    store = open_drawings_store()
    kept = store.keep(owner, drawing, image28, 7, "cnn", probabilities)
    store.drawings(owner)                      # newest first, only the owner's
    store.relabel(owner, kept.id, NOT_A_DIGIT)
    store.set_shared(owner, True)              # "Let others train on these"
    store.for_training(owner, include_shared=True)

A visitor's drawings are theirs: every call names the owner, and someone else's drawing
reads as one that does not exist. Keeping one is atomic (a process killed mid-save
leaves no half record); deleting one removes its pixels (SQLite overwrites deleted rows
and empties its write-ahead log; Redis deletes the keys). Nothing about a drawing is
logged. `DrawingLimits` keeps a public deployment's store small.
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass

import cv2
import numpy as np

from mnist_core.errors import DrawingRefused
from mnist_core.shared.drawing_records import Row, open_drawing_records
from mnist_core.shared.owners import check_owner
from mnist_core.shared.settings import whole_number
from mnist_core.shared.state import Backend, open_backend

NOT_A_DIGIT = 10  # label for "not a digit"
LABELS = range(NOT_A_DIGIT + 1)
CLASSES = 10  # the probabilities of a reading, one per digit
MODEL_NAME_CHARS = 200
_ID = re.compile(r"[0-9a-f]{32}")
_NO_SUCH = "no such drawing among yours: it may have been deleted"


@dataclass(frozen=True)
class DrawingLimits:
    """What one visitor may keep in a shared deployment; each set by an environment
    variable (`MNIST_DRAWINGS_PER_OWNER`, `MNIST_DRAWING_MAX_BYTES`,
    `MNIST_DRAWING_MAX_SIDE`)."""

    per_owner: int = 500  # drawings kept at once
    # a drawing and its 28x28 image, compressed as stored: a digit on the 280 px pad takes
    # 2-4 KB, a number on the wide pad 7-9 KB, six digits on 1000x1000 under 17 KB
    max_bytes: int = 100_000
    max_side: int = 1000  # pixels, the drawing's width and height: the pads are smaller

    @classmethod
    def from_env(cls) -> DrawingLimits:
        return cls(
            per_owner=whole_number("MNIST_DRAWINGS_PER_OWNER", cls.per_owner),
            max_bytes=whole_number("MNIST_DRAWING_MAX_BYTES", cls.max_bytes),
            max_side=whole_number("MNIST_DRAWING_MAX_SIDE", cls.max_side),
        )


# eq=False: a drawing is itself, and numpy arrays do not compare to one truth value
@dataclass(frozen=True, eq=False)
class KeptDrawing:
    """One kept drawing, as read back (its arrays read-only)."""

    id: str  # opaque, unguessable
    owner: str
    label: int  # 0-9, or NOT_A_DIGIT
    drawing: np.ndarray  # (H, W) uint8: the pad's grayscale image, white ink on black
    image28: np.ndarray  # (28, 28) uint8: what the model read
    model: str  # the model that read it
    probabilities: tuple[float, ...]  # the reading shown (10 values)
    created: float  # time.time(), strictly increasing among one owner's drawings


class DrawingsStore:
    """Visitors' kept drawings where `backend` keeps shared state: `drawings.db` in its
    state folder, or its Redis with keys under `<name>:drawings`."""

    def __init__(self, backend: Backend, *, limits: DrawingLimits | None = None,
                 name: str = "mnist-training"):
        self.limits = limits or DrawingLimits.from_env()
        self._records = open_drawing_records(backend, f"{name}:drawings")
        self.set_aside = self._records.set_aside  # where a damaged drawings.db went

    def keep(self, owner: str, drawing: np.ndarray, image28: np.ndarray, label: int,
             model: str, probabilities) -> KeptDrawing:
        """Keep `drawing` under `owner`, labelled `label`; `DrawingRefused` when it breaks
        a limit or is malformed (nothing is kept then)."""
        check_owner(owner)
        label = _check_label(label)
        drawing = _check_drawing(drawing, self.limits.max_side)
        image28 = _check_image28(image28)
        model = _check_model(model)
        reading = _check_probabilities(probabilities)
        row = Row(secrets.token_hex(16), owner, label, 0.0, model, json.dumps(reading),
                  _png(drawing), _png(image28))
        size = len(row.drawing) + len(row.image28)
        if size > self.limits.max_bytes:
            raise DrawingRefused(
                f"this drawing takes {size:,} bytes as stored, more than the "
                f"{self.limits.max_bytes:,} a kept drawing may take: keep a simpler one")
        created = self._records.add(row, self.limits.per_owner)
        if created is None:
            raise DrawingRefused(
                f"you have kept {self.limits.per_owner:,} drawings, the most anyone may "
                "keep here: delete some to keep this one")
        return KeptDrawing(row.id, owner, label, _read_only(drawing.copy()),
                           _read_only(image28.copy()), model, reading, created)

    def drawings(self, owner: str) -> list[KeptDrawing]:
        """`owner`'s drawings, newest first."""
        return [_kept(row) for row in self._records.rows(check_owner(owner))]

    def counts(self, owner: str) -> dict[int, int]:
        """How many drawings `owner` keeps under each label (every label, 0 included)."""
        return dict.fromkeys(LABELS, 0) | self._records.counts(check_owner(owner))

    def relabel(self, owner: str, drawing_id: str, label: int) -> None:
        """Give `owner`'s drawing `drawing_id` the label `label`."""
        check_owner(owner)
        label = _check_label(label)
        if not (_is_id(drawing_id) and self._records.set_label(owner, drawing_id, label)):
            raise DrawingRefused(_NO_SUCH)

    def delete(self, owner: str, drawing_id: str) -> None:
        """Delete `owner`'s drawing `drawing_id`, its pixels with it."""
        check_owner(owner)
        if not (_is_id(drawing_id) and self._records.remove(owner, drawing_id)):
            raise DrawingRefused(_NO_SUCH)

    def delete_all(self, owner: str) -> int:
        """Delete every drawing `owner` keeps; returns how many went."""
        return self._records.remove_all(check_owner(owner))

    def set_shared(self, owner: str, shared: bool) -> None:
        """Whether others' runs may train on `owner`'s drawings ("Let others train on
        these"); off until the owner turns it on."""
        check_owner(owner)
        if not isinstance(shared, bool):
            raise DrawingRefused(f"sharing is on or off (True or False), got {shared!r}")
        self._records.set_shared(owner, shared)

    def is_shared(self, owner: str) -> bool:
        return self._records.is_shared(check_owner(owner))

    def for_training(self, owner: str, include_shared: bool) -> list[KeptDrawing]:
        """What a run of `owner`'s trains on: their own drawings and, with
        `include_shared`, those of every other owner who shares theirs."""
        rows = self._records.rows(check_owner(owner))
        if include_shared:
            for other in sorted(self._records.sharing()):
                if other != owner:
                    rows += self._records.rows(other)
        return [_kept(row) for row in rows]


def open_drawings_store(url: str | None = None, state=None) -> DrawingsStore:
    """The drawings store on the shared state `open_backend(url, state)` names."""
    return DrawingsStore(open_backend(url, state))


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} of shape {value.shape}"
    return type(value).__name__


def _check_label(label) -> int:
    whole = isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_))
    if whole and int(label) in LABELS:
        return int(label)
    shown = label if isinstance(label, (int, np.integer)) else _describe(label)
    raise DrawingRefused(
        f"{shown} is not a label a drawing can have: a digit 0-9, or {NOT_A_DIGIT} for "
        "not a digit")


def _check_drawing(drawing, max_side: int) -> np.ndarray:
    if not (isinstance(drawing, np.ndarray) and drawing.dtype == np.uint8
            and drawing.ndim == 2 and drawing.size):
        raise DrawingRefused(
            "a drawing to keep must be the pad's grayscale image (a 2-D uint8 array), got "
            + _describe(drawing))
    height, width = drawing.shape
    if max(height, width) > max_side:
        raise DrawingRefused(
            f"this drawing is {width}x{height} pixels, larger than the {max_side}x"
            f"{max_side} a kept drawing may be")
    return drawing


def _check_image28(image28) -> np.ndarray:
    if not (isinstance(image28, np.ndarray) and image28.dtype == np.uint8
            and image28.shape == (28, 28)):
        raise DrawingRefused(
            "what the model read must be a 28x28 uint8 image, got " + _describe(image28))
    return image28


def _check_model(model) -> str:
    if not (isinstance(model, str) and 0 < len(model) <= MODEL_NAME_CHARS
            and model.isprintable()):
        raise DrawingRefused(
            f"the name of the model that read a drawing must be 1 to {MODEL_NAME_CHARS} "
            "printable characters")
    return model


def _check_probabilities(probabilities) -> tuple[float, ...]:
    try:
        values = np.asarray(probabilities, dtype=np.float64)
    except (TypeError, ValueError):
        values = None
    if values is None or values.shape != (CLASSES,):
        got = "something else" if values is None else f"{values.size} values"
    elif not np.isfinite(values).all():
        got = "a value that is not a number"
    elif values.min() < 0 or values.max() > 1:
        got = "a value outside 0-1"
    else:
        return tuple(float(v) for v in values)
    raise DrawingRefused(
        f"a reading is {CLASSES} probabilities between 0 and 1, one per digit; got {got}")


def _png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", np.ascontiguousarray(image))
    if not ok:
        raise DrawingRefused(f"this image cannot be stored ({_describe(image)})")
    return data.tobytes()


def _unpng(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def _read_only(image: np.ndarray) -> np.ndarray:
    image.setflags(write=False)
    return image


def _kept(row: Row) -> KeptDrawing:
    return KeptDrawing(
        row.id, row.owner, int(row.label), _read_only(_unpng(row.drawing)),
        _read_only(_unpng(row.image28)), row.model, tuple(json.loads(row.probabilities)),
        float(row.created))


def _is_id(drawing_id) -> bool:
    return isinstance(drawing_id, str) and _ID.fullmatch(drawing_id) is not None

