"""`mnist_core.sources.data`: local IDX folders, npz, the env setting and damaged files."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from mnist_core.errors import DatasetError
from mnist_core.sources.data import DATA_DIR_ENV, load_mnist, mnist_available

from .conftest import SUBSET_DIR


def _write_idx(path: Path, array: np.ndarray, magic: int, header_shape=None) -> None:
    header = np.array([magic, *(header_shape or array.shape)], dtype=">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def subset_copy(tmp_path):
    folder = tmp_path / "mnist"
    shutil.copytree(SUBSET_DIR, folder)
    return folder


def test_subset_loads_with_keras_shapes(mnist_subset):
    (x_train, y_train), (x_test, y_test) = mnist_subset
    assert x_train.shape == (1000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (1000,) and y_train.dtype == np.uint8
    assert x_test.shape == (500, 28, 28) and y_test.shape == (500,)
    assert np.bincount(y_train).tolist() == [100] * 10
    # Real digits: ink is white on black and fills roughly a fifth of the frame.
    assert 0.1 < (x_test > 128).mean() < 0.3
    assert x_test[:, 0, :].max() == 0


def test_env_setting_is_used_and_argument_wins(monkeypatch, tmp_path, subset_copy):
    monkeypatch.setenv(DATA_DIR_ENV, str(subset_copy))
    (x_train, _), _ = load_mnist()
    assert len(x_train) == 1000
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "nowhere"))
    with pytest.raises(DatasetError, match="nowhere"):
        load_mnist()
    (x_train, _), _ = load_mnist(subset_copy)
    assert len(x_train) == 1000


def test_raw_idx_files_load_like_gz(tmp_path, subset_copy, mnist_subset):
    raw = tmp_path / "raw"
    raw.mkdir()
    for gz in subset_copy.glob("*.gz"):
        (raw / gz.stem).write_bytes(gzip.decompress(gz.read_bytes()))
    (x_train, y_train), _ = load_mnist(raw)
    np.testing.assert_array_equal(x_train, mnist_subset[0][0])
    np.testing.assert_array_equal(y_train, mnist_subset[0][1])


def test_npz_folder(tmp_path, mnist_subset):
    (x_train, y_train), (x_test, y_test) = mnist_subset
    np.savez(tmp_path / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test,
             y_test=y_test)
    (a, b), (c, d) = load_mnist(tmp_path)
    np.testing.assert_array_equal(c, x_test)
    assert mnist_available(tmp_path)


def test_missing_file_is_named(subset_copy):
    (subset_copy / "t10k-labels-idx1-ubyte.gz").unlink()
    assert not mnist_available(subset_copy)
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte"):
        load_mnist(subset_copy)


def test_truncated_file_is_named(subset_copy):
    path = subset_copy / "train-images-idx3-ubyte.gz"
    data = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(data[:-100]))
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte\.gz is truncated"):
        load_mnist(subset_copy)


def test_corrupt_gzip_is_named(subset_copy):
    (subset_copy / "t10k-images-idx3-ubyte.gz").write_bytes(b"not a gzip file")
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz cannot be read"):
        load_mnist(subset_copy)


def test_wrong_image_size_says_what_was_expected(subset_copy):
    _write_idx(subset_copy / "t10k-images-idx3-ubyte.gz", np.zeros((500, 29, 28)), 2051)
    with pytest.raises(DatasetError, match=r"\(500, 29, 28\), expected \('N', 28, 28\)"):
        load_mnist(subset_copy)


def test_wrong_magic_and_count_mismatch(subset_copy):
    _write_idx(subset_copy / "t10k-labels-idx1-ubyte.gz", np.zeros(500), 2051)
    with pytest.raises(DatasetError, match="magic number 2051, expected 2049"):
        load_mnist(subset_copy)
    _write_idx(subset_copy / "t10k-labels-idx1-ubyte.gz", np.zeros(499), 2049)
    with pytest.raises(DatasetError, match="500 images but 499 labels"):
        load_mnist(subset_copy)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get(DATA_DIR_ENV), reason="MNIST_DATA_DIR not set")
def test_full_mnist_matches_published_counts():
    folder = Path(os.environ[DATA_DIR_ENV])
    sums = folder / "SHA256SUMS"
    if sums.is_file():
        for line in sums.read_text().splitlines():
            digest, name = line.split()
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest, name
    (x_train, y_train), (x_test, y_test) = load_mnist()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [
        5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
    ]
    assert abs(x_train.mean() / 255 - 0.1307) < 1e-3


def test_a_download_is_offered_only_where_the_keras_origin_answers(monkeypatch):
    import http.server
    import threading

    from mnist_core.sources import data

    class Origin(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):  # noqa: N802 (the handler's name)
            self.send_response(200 if self.path.endswith("/mnist.npz") else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Origin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"http://127.0.0.1:{server.server_port}"
        monkeypatch.delenv(DATA_DIR_ENV, raising=False)
        monkeypatch.setattr(data, "KERAS_ORIGIN", f"{host}/mnist.npz")
        assert data.mnist_downloadable()
        monkeypatch.setattr(data, "KERAS_ORIGIN", f"{host}/gone.npz")
        assert not data.mnist_downloadable()
        monkeypatch.setattr(data, "KERAS_ORIGIN", f"{host}/mnist.npz")
        monkeypatch.setenv(DATA_DIR_ENV, "/a/folder/set/by/hand")  # never bypassed
        assert not data.mnist_downloadable()
    finally:
        server.shutdown()
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    monkeypatch.setattr(data, "KERAS_ORIGIN", "http://127.0.0.1:9/mnist.npz")  # nobody there
    assert not data.mnist_downloadable(timeout=1.0)
