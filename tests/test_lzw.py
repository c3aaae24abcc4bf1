"""Tests for `mnist_core.sources.lzw`: the decoder against files made by ncompress's `compress`.

The committed `.Z` files and the byte strings below were made with Debian's `compress`
(ncompress 4.2.4.6), so they run anywhere; where `compress` is installed, more round
trips run through it.
"""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from mnist_core.sources.lzw import unlzw

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "pendigits-sample.tra"


@pytest.mark.parametrize(
    ("text", "packed"),
    [
        (b"", "1f9d90"),  # header only: block mode, up to 16 bits
        (b"a", "1f9d906100"),  # one 9-bit code, 0x061
        (b"aaaa", "1f9d9061028601"),  # a, then code 257 ("aa") while it is being defined
        (b"abababab", "1f9d9061c4041c2806"),
    ],
)
def test_known_cases(text: bytes, packed: str) -> None:
    assert unlzw(bytes.fromhex(packed)) == text


def test_the_sample_as_compress_packs_it() -> None:
    # `compress -c pendigits-sample.tra`: codes grow from 9 to 13 bits
    assert unlzw((DATA / "pendigits-sample.tra.Z").read_bytes()) == SAMPLE.read_bytes()


def test_a_table_clear() -> None:
    # `compress -b 10` of this text then noise: the table fills, and when the noise makes
    # the ratio drop, compress clears it (code 256) and starts over at 9 bits
    text = SAMPLE.read_bytes() + random.Random(0).randbytes(5000)
    assert unlzw((DATA / "lzw-clear-b10.Z").read_bytes()) == text


@pytest.mark.skipif(shutil.which("compress") is None, reason="ncompress is not installed")
@pytest.mark.parametrize("bits", [10, 11, 12, 13, 14, 15, 16])
def test_round_trips_through_compress(bits: int) -> None:
    # -b 9 is left out: ncompress cannot read back its own 9-bit output either
    for text in (SAMPLE.read_bytes() * 3, random.Random(bits).randbytes(60_000)):
        done = subprocess.run(["compress", "-c", "-b", str(bits)], input=text,
                              capture_output=True)
        assert done.returncode in (0, 2), done.stderr  # 2: the output is the larger
        assert unlzw(done.stdout) == text


@pytest.mark.parametrize(
    ("packed", "message"),
    [
        (b"", "magic number"),
        (b"PK\x03\x04", "magic number"),
        (bytes.fromhex("1f9d98"), "unsupported"),  # 24 bits
        (bytes.fromhex("1f9dd0"), "unsupported"),  # a reserved flag
        (bytes.fromhex("1f9d902c01"), "first code 300"),
        (bytes.fromhex("1f9d9061c40f"), "not in the table"),  # a, then code 482 > 257
    ],
)
def test_bad_input_is_refused(packed: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        unlzw(packed)
