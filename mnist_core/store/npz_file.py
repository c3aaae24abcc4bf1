"""The small versioned `.npz` files the store keeps beside a model (its test readings,
its neighbour index): written compressed, read without pickles, and a file that is not
one, or of another format, refused in words."""

from __future__ import annotations

import contextlib
import io
import zipfile
from collections.abc import Iterator

import numpy as np


def to_npz(version: int, **arrays) -> bytes:
    """The `.npz` bytes of `arrays` and the format `version` (compressed; no objects)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, version=np.array(version), **arrays)
    return buffer.getvalue()


@contextlib.contextmanager
def read_npz(data: bytes, version: int, error: type[Exception], what: str) -> Iterator:
    """The arrays of a `.npz` file's bytes (`stored["name"]`), inside a `with`; `error`
    ("not a <what>", "<what> format 2, expected 1") for bytes that are no such file,
    of another format, or lack an array the body reads."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as stored:
            found = int(stored["version"])
            if found != version:
                raise error(f"{what} format {found}, expected {version}")
            yield stored
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
        if isinstance(err, error):
            raise
        raise error(f"not a {what}: {err}") from err
