"""The drawings file: every field round-trips; bombs and bad files are refused, each
with the reason, before anything large is unpacked."""

from __future__ import annotations

import io
import json
import struct
import subprocess
import sys
import textwrap
import zipfile
import zlib
from types import SimpleNamespace

import numpy as np
import pytest

from mnist_core.errors import DrawingsFileError, MnistCoreError
from mnist_core.reading.preprocess import canvas_to_mnist
from mnist_core.sources.drawings_file import (
    FORMAT,
    MAX_FILE_BYTES,
    NOT_A_DIGIT,
    Drawings,
    drawings_to_bytes,
    make_drawings,
    read_drawings,
    read_drawings_file,
    write_drawings,
)
from tests.conftest import ROOT

GIB = 1 << 30


def _stroke(height: int, width: int, column: int) -> np.ndarray:
    """A pad drawing: one vertical white stroke on black."""
    image = np.zeros((height, width), np.uint8)
    image[height // 5: 4 * height // 5, column: column + 18] = 255
    return image


def _npz(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_every_field_round_trips_drawings_of_different_sizes_too(tmp_path):
    drawings = [_stroke(280, 280, 120), _stroke(200, 300, 40), _stroke(280, 280, 200)]
    probabilities = np.full((3, 10), np.nan, np.float32)
    probabilities[0] = np.eye(10, dtype=np.float32)[1]
    made = make_drawings(drawings, [1, NOT_A_DIGIT, 7], models=["cnn", "", "fast-cnn"],
                         created=[1_700_000_000.5, np.nan, 1_700_000_100.0],
                         probabilities=probabilities)
    path = write_drawings(tmp_path / "mine.npz", made)
    read = read_drawings_file(path)
    assert len(read) == 3
    assert [d.shape for d in read.drawings] == [(280, 280), (200, 300), (280, 280)]
    for original, again in zip(drawings, read.drawings):
        np.testing.assert_array_equal(original, again)
    assert read.labels.tolist() == [1, 10, 7]
    assert read.models == ("cnn", "", "fast-cnn")
    np.testing.assert_array_equal(read.created, made.created)  # NaN where unknown
    np.testing.assert_array_equal(read.probabilities, probabilities)
    np.testing.assert_array_equal(read.images28, made.images28)
    assert read.per_label().tolist() == [0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 1]
    # what the file holds, field by field (docs/drawings-file.md)
    with np.load(path, allow_pickle=False) as raw:
        assert sorted(raw.files) == sorted(["format", "drawings", "sizes", "labels",
                                            "images28", "models", "created",
                                            "probabilities"])
        assert str(raw["format"]) == FORMAT
        assert raw["drawings"].shape == (3, 280, 300) and raw["drawings"].dtype == np.uint8
        assert raw["sizes"].tolist() == [[280, 280], [200, 300], [280, 280]]
        assert raw["drawings"][1, 200:].max() == 0 and raw["drawings"][0, :, 280:].max() == 0


def test_the_28x28_images_are_made_with_the_one_preprocessing_when_a_file_has_none():
    drawings = np.stack([_stroke(280, 280, 60), _stroke(280, 280, 150)])
    read = read_drawings(_npz(drawings=drawings, labels=np.array([1, 1], np.int64)))
    expected = np.round(canvas_to_mnist(drawings[1]) * 255).astype(np.uint8)
    np.testing.assert_array_equal(read.images28[1], expected)
    assert read.images28.dtype == np.uint8 and read.images28[1].max() == 255
    assert read.models == ("", "") and np.isnan(read.created).all()


def test_a_store_s_drawings_are_written_without_their_owner_or_id():
    owner = "o_alice-" + "0" * 26
    kept = [SimpleNamespace(id=f"d{i}", owner=owner, label=i, drawing=_stroke(280, 280, 100),
                            image28=np.zeros((28, 28), np.uint8), model="cnn",
                            probabilities=tuple([0.1] * 10), created=1.0 + i) for i in range(3)]
    data = drawings_to_bytes(Drawings.from_kept(kept))
    read = read_drawings(data)
    assert read.labels.tolist() == [0, 1, 2] and read.created.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(read.probabilities, 0.1)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = b"".join(archive.read(name) for name in archive.namelist())
    assert owner.encode() not in unpacked and owner.encode("utf-32-le") not in unpacked
    assert b"d1" not in unpacked


@pytest.mark.parametrize("data, reason", [
    (b"", "the file is empty"),
    (b"PK\x03\x04 not really a zip", "not a drawings file"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "an .npz (a zip of numpy arrays) is expected"),
    (_npz(drawings=np.zeros((2, 28, 28), np.uint8)), "no 'labels' array"),
    (_npz(drawings=np.zeros((2, 28, 28), np.float32), labels=np.array([1, 2])),
     "'drawings' must be (N, H, W) uint8"),
    (_npz(drawings=np.full((2, 28, 28), 255, np.uint8), labels=np.array([1, 11])),
     "a label is 11; labels are the digits 0-9, or 10"),
    (_npz(drawings=np.full((2, 28, 28), 255, np.uint8), labels=np.array([-1, 2])),
     "a label is -1"),
    (_npz(drawings=np.full((2, 28, 28), 255, np.uint8), labels=np.array([1, 2, 3])),
     "'labels' is int64 shaped (3,); for 2 drawings it must be integers shaped (2,)"),
    (_npz(drawings=np.full((2, 28, 28), 255, np.uint8), labels=np.array([1.0, 2.0])),
     "'labels' cannot be float64"),
    (_npz(drawings=np.full((2, 1200, 28), 255, np.uint8), labels=np.array([1, 2])),
     "the drawings are 1200x28 px; each side must be 1 to 1120 px"),
    (_npz(drawings=np.full((1, 28, 28), 255, np.uint8), labels=np.array([1]),
          images28=np.zeros((1, 20, 20), np.uint8)), "'images28' is uint8 shaped (1, 20, 20)"),
    (_npz(drawings=np.full((1, 28, 28), 255, np.uint8), labels=np.array([1]),
          format=np.array("mnist-drawings-9")), "of format 'mnist-drawings-9'"),
    (_npz(drawings=np.zeros((1, 280, 280), np.uint8), labels=np.array([3])),
     "drawing 0 holds no digit-sized ink"),
    (_npz(drawings=np.full((1, 28, 28), 255, np.uint8), labels=np.array([1]),
          sizes=np.array([[28, 40]])), "'sizes' must give each drawing's height and width"),
])
def test_a_bad_file_is_refused_with_the_reason(data, reason):
    with pytest.raises(DrawingsFileError) as refused:
        read_drawings(data)
    assert reason in str(refused.value)
    assert isinstance(refused.value, MnistCoreError)


def test_pickled_objects_are_never_unpickled():
    labels = np.array([{"__reduce__": "anything"}, 2], dtype=object)
    data = _npz(drawings=np.full((2, 28, 28), 255, np.uint8), labels=labels)
    with pytest.raises(DrawingsFileError, match="holds Python objects"):
        read_drawings(data)


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.npz"
    with path.open("wb") as file:
        file.truncate(MAX_FILE_BYTES + 1)
    with pytest.raises(DrawingsFileError, match="more than the 20 MB limit"):
        read_drawings_file(path)
    with pytest.raises(DrawingsFileError, match="more than the 20 MB limit"):
        read_drawings(bytes(MAX_FILE_BYTES + 1))


def test_writing_refuses_what_could_not_be_read_back():
    with pytest.raises(DrawingsFileError, match="1 to 1,000 drawings, not 0"):
        make_drawings([], [])
    with pytest.raises(DrawingsFileError, match="drawing 0 must be \\(H, W\\) uint8"):
        make_drawings([np.zeros((28, 28, 4), np.uint8)], [1])
    with pytest.raises(DrawingsFileError, match="a label is 12"):
        make_drawings([_stroke(28, 28, 5)], [12])
    wide = make_drawings([_stroke(1120, 1120, 500)] * 120, [1] * 120)
    with pytest.raises(DrawingsFileError, match="more than the 128 MB limit"):
        drawings_to_bytes(wide)


# Bombs: zips written by hand, so that the sizes a zip declares can lie.

def _npy_header(shape: tuple[int, ...]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def _deflated_zeros(header: bytes, zeros: int) -> tuple[bytes, int]:
    """A raw deflate stream of `header` then `zeros` zero bytes (made of one flushed
    block of a MiB repeated, so a GiB costs a second), and the CRC-32 of it all."""
    mib = bytes(1 << 20)
    start = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [start.compress(header) + start.flush(zlib.Z_FULL_FLUSH)]
    block = zlib.compressobj(9, zlib.DEFLATED, -15)
    block_bytes = block.compress(mib) + block.flush(zlib.Z_FULL_FLUSH)
    assert zeros % len(mib) == 0
    parts += [block_bytes] * (zeros // len(mib))
    parts.append(zlib.compressobj(9, zlib.DEFLATED, -15).flush())
    crc = zlib.crc32(header)
    for _ in range(zeros // len(mib)):
        crc = zlib.crc32(mib, crc)
    return b"".join(parts), crc


def _zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip of deflated `(name, stream, crc, declared size)` members."""
    out, central = bytearray(), bytearray()
    for name, stream, crc, size in members:
        encoded = name.encode()
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(stream),
                           size, len(encoded), 0) + encoded + stream
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc,
                               len(stream), size, len(encoded), 0, 0, 0, 0, 0,
                               offset) + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                      len(central), len(out), 0)
    return bytes(out + central + end)


def _labels_member() -> tuple[str, bytes, int, int]:
    data = io.BytesIO()
    np.save(data, np.array([1], np.uint8))
    raw = data.getvalue()
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    return "labels.npy", packer.compress(raw) + packer.flush(), zlib.crc32(raw), len(raw)


def _bombs() -> dict[str, bytes]:
    header = _npy_header((1024, 1024, 1024))
    stream, crc = _deflated_zeros(header, GIB)
    small_header = _npy_header((1, 28, 28))
    small_stream, small_crc = _deflated_zeros(small_header, GIB)
    huge_header = _npy_header((100_000, 1000, 1000))
    lying_stream, lying_crc = _deflated_zeros(huge_header, 1 << 20)
    return {
        # a GiB of zeros, truthfully declared: refused from the zip's directory
        "zeros": _zip([("drawings.npy", stream, crc, len(header) + GIB), _labels_member()]),
        # a small member whose .npy header declares 100 GB
        "header lies": _zip([("drawings.npy", lying_stream, lying_crc,
                              len(huge_header) + (1 << 20)), _labels_member()]),
        # a GiB of zeros behind a directory entry that declares 800 bytes
        "directory lies": _zip([("drawings.npy", small_stream, small_crc,
                                 len(small_header) + 28 * 28), _labels_member()]),
    }


_MEASURE = textwrap.dedent("""
    import json, resource, sys, time
    from mnist_core.errors import DrawingsFileError
    from mnist_core.sources.drawings_file import read_drawings
    data = open(sys.argv[1], "rb").read()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    try:
        outcome = f"read {len(read_drawings(data))} drawings"
    except DrawingsFileError as err:
        outcome = f"refused: {err}"
    seconds = time.perf_counter() - start
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    print(json.dumps({"outcome": outcome, "seconds": seconds, "grown_mb": grown_mb}))
""")


@pytest.fixture(scope="module")
def bombs(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("bombs")
    paths = {}
    for kind, data in _bombs().items():
        assert len(data) < 2 * 2**20  # a small upload
        paths[kind] = folder / f"{kind.replace(' ', '-')}.npz"
        paths[kind].write_bytes(data)
    return paths


@pytest.mark.parametrize("kind, reason", [
    ("zeros", "would unpack to 1,024 MB, more than the 128 MB limit"),
    ("header lies", "its header promises 100,000,000,000 bytes of data, its zip entry "
                    "1,048,576"),
    ("directory lies", "the field 'drawings' is damaged"),
])
def test_a_zip_bomb_is_refused_before_it_is_unpacked(bombs, kind, reason):
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(bombs[kind])], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert measured["outcome"].startswith("refused: "), measured
    assert reason in measured["outcome"], measured
    assert measured["seconds"] <= 0.5, measured
    assert measured["grown_mb"] <= 20, measured


def test_the_hand_made_zips_are_real_zips_of_what_they_say():
    """At a small size the same writer gives a file numpy and `read_drawings` read, and the
    bomb's member does unpack to a GiB of zeros (so the bombs are genuine)."""
    header = _npy_header((1, 28, 28))
    image = np.zeros((1, 28, 28), np.uint8)
    image[0, 5:23, 12:16] = 255
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    raw = header + image.tobytes()
    data = _zip([("drawings.npy", packer.compress(raw) + packer.flush(), zlib.crc32(raw),
                  len(raw)), _labels_member()])
    assert read_drawings(data).labels.tolist() == [1]
    stream, _ = _deflated_zeros(_npy_header((1024, 1024, 1024)), GIB)
    unpacker = zlib.decompressobj(-15)
    total = 0
    while stream:
        total += len(unpacker.decompress(stream, 1 << 24))
        stream = unpacker.unconsumed_tail
    assert total == len(_npy_header((1024, 1024, 1024))) + GIB and unpacker.eof
