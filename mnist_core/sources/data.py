"""Load MNIST from a local folder (IDX files or `mnist.npz`) or the Keras cache.

Machines without internet point `MNIST_DATA_DIR` at a folder holding the four LeCun
IDX files (`.gz` or raw); elsewhere Keras downloads and caches the data set.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from mnist_core.errors import DatasetError

DATA_DIR_ENV = "MNIST_DATA_DIR"
KERAS_CACHE = Path.home() / ".keras" / "datasets"  # where Keras' download of MNIST goes

# name, IDX magic number, shape (None: any count, so a subset of MNIST loads too)
IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", 2051, (None, 28, 28)),
    "y_train": ("train-labels-idx1-ubyte", 2049, (None,)),
    "x_test": ("t10k-images-idx3-ubyte", 2051, (None, 28, 28)),
    "y_test": ("t10k-labels-idx1-ubyte", 2049, (None,)),
}

MnistSplits = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def load_mnist(data_dir: str | os.PathLike | None = None) -> MnistSplits:
    """Return `((x_train, y_train), (x_test, y_test))` as uint8 arrays.

    Shapes match `keras.datasets.mnist.load_data()`. Sources, in order: `data_dir`,
    the `MNIST_DATA_DIR` environment variable, then the Keras cache/download.
    """
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if folder:
        return load_mnist_folder(Path(folder))
    return _load_from_keras()


def mnist_source_description(data_dir: str | os.PathLike | None = None) -> str:
    """Say where `load_mnist` would read from, for messages in the UI and the CLI."""
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if folder:
        return f"local folder {folder}"
    return "the Keras cache (~/.keras/datasets/mnist.npz, downloaded if missing)"


def mnist_available(data_dir: str | os.PathLike | None = None) -> bool:
    """True when `load_mnist` can work without a download."""
    folder = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV)
    if folder:
        path = Path(folder)
        return (path / "mnist.npz").is_file() or all(
            _find_idx(path, name) is not None for name, _, _ in IDX_FILES.values()
        )
    return (KERAS_CACHE / "mnist.npz").is_file()


# Where keras.datasets.mnist.load_data downloads MNIST from (Keras 3).
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"


def mnist_downloadable(timeout: float = 3.0) -> bool:
    """Whether Keras could download MNIST from here now: its file answers a HEAD request
    within `timeout` seconds. Only asked when `mnist_available` is False and no
    `MNIST_DATA_DIR` is set (a set folder is never bypassed by a download)."""
    import urllib.error
    import urllib.request

    if os.environ.get(DATA_DIR_ENV):
        return False
    request = urllib.request.Request(KERAS_ORIGIN, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def load_mnist_folder(folder: Path) -> MnistSplits:
    """Read the four IDX files (or `mnist.npz`) from `folder`, checking every shape."""
    if not folder.is_dir():
        raise DatasetError(f"MNIST folder {folder} does not exist")
    npz = folder / "mnist.npz"
    if npz.is_file() and any(_find_idx(folder, n) is None for n, _, _ in IDX_FILES.values()):
        return _load_npz(npz)
    arrays = {}
    for key, (name, magic, shape) in IDX_FILES.items():
        path = _find_idx(folder, name)
        if path is None:
            raise DatasetError(
                f"MNIST file {name}(.gz) is missing from {folder}; expected the four "
                "LeCun IDX files (train/t10k images and labels)"
            )
        arrays[key] = read_idx(path, magic, shape)
    _check_counts(arrays, folder)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def read_idx(path: Path, magic: int, shape: tuple[int | None, ...]) -> np.ndarray:
    """Parse one IDX file (big-endian header, then raw uint8) and check its shape.

    `None` in `shape` accepts any size in that dimension.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DatasetError(f"MNIST file {path} cannot be read: {err}") from err
    header_len = 4 * (1 + len(shape))
    if len(raw) < header_len:
        raise DatasetError(f"MNIST file {path} is truncated: {len(raw)} bytes, no full header")
    header = np.frombuffer(raw[:header_len], dtype=">u4")
    if header[0] != magic:
        raise DatasetError(
            f"MNIST file {path} has magic number {header[0]}, expected {magic}"
        )
    found = tuple(int(d) for d in header[1:])
    if any(want is not None and want != got for want, got in zip(shape, found, strict=False)):
        expected_text = tuple("N" if d is None else d for d in shape)
        raise DatasetError(
            f"MNIST file {path} holds shape {found}, expected {expected_text}"
        )
    expected = int(np.prod(found))
    body = np.frombuffer(raw, dtype=np.uint8, offset=header_len)
    if body.size != expected:
        raise DatasetError(
            f"MNIST file {path} is truncated or padded: {body.size} data bytes, "
            f"expected {expected}"
        )
    return body.reshape(found).copy()


def _check_counts(arrays: dict[str, np.ndarray], source: Path) -> None:
    """Images and labels must pair up, and labels must be digits."""
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if len(images) != len(labels):
            raise DatasetError(
                f"MNIST {split} data in {source}: {len(images)} images but "
                f"{len(labels)} labels"
            )
        if len(labels) and labels.max() > 9:
            raise DatasetError(
                f"MNIST {split} labels in {source} include {labels.max()}, expected 0-9"
            )


def _find_idx(folder: Path, name: str) -> Path | None:
    for candidate in (folder / f"{name}.gz", folder / name):
        if candidate.is_file():
            return candidate
    return None


def _load_npz(path: Path) -> MnistSplits:
    try:
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in IDX_FILES}
    except (OSError, KeyError, ValueError) as err:
        raise DatasetError(
            f"MNIST file {path} cannot be read as mnist.npz "
            f"(needs x_train, y_train, x_test, y_test): {err}"
        ) from err
    for key, (_, _, shape) in IDX_FILES.items():
        found = arrays[key].shape
        if len(found) != len(shape) or found[1:] != shape[1:]:
            raise DatasetError(
                f"MNIST file {path}: {key} has shape {found}, expected "
                f"{tuple('N' if d is None else d for d in shape)}"
            )
    _check_counts(arrays, path)
    return (
        (arrays["x_train"].astype(np.uint8), arrays["y_train"].astype(np.uint8)),
        (arrays["x_test"].astype(np.uint8), arrays["y_test"].astype(np.uint8)),
    )


def _load_from_keras() -> MnistSplits:
    cached = KERAS_CACHE / "mnist.npz"
    if cached.is_file():  # read without Keras, which the web server does not import
        return _load_npz(cached)
    try:
        import keras
    except ModuleNotFoundError as err:  # the web set (requirements-web.txt) has no Keras
        raise DatasetError(
            "MNIST is not available: no data folder given, MNIST_DATA_DIR is not set, "
            f"{cached} is missing, and Keras, which would download it, is not installed "
            "here. Set MNIST_DATA_DIR to a folder with the four LeCun IDX files."
        ) from err

    try:
        return keras.datasets.mnist.load_data()
    except Exception as err:  # the Keras downloader raises many kinds (URL, OS, HTTP)
        raise DatasetError(
            "MNIST is not available: no data folder given, MNIST_DATA_DIR is not set, "
            f"and the Keras download failed ({err}). Set MNIST_DATA_DIR to a folder "
            "with the four LeCun IDX files."
        ) from err
