"""Tests for `mnist_core.sources.pendigits_source`: where it finds its file: the
environment, the shared copy, the cache beside Keras's MNIST, and the one-time download.

Downloads come from `file://` URLs of the committed sample (as `.Z`, plain or zipped);
the sample's own SHA-256 stands in for the real file's. Nothing touches the network or
the home directory.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest

from mnist_core.sources import pendigits_source as source
from mnist_core.sources.pendigits_source import (
    FILE_NAME,
    PENDIGITS_SHA256,
    PenDigitsChecksumError,
    PenDigitsNotFoundError,
    default_pendigits_path,
    fetch_pendigits,
    load_pendigits,
    pendigits_cache_dir,
)

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "pendigits-sample.tra"
SAMPLE_Z = DATA / "pendigits-sample.tra.Z"  # `compress -c pendigits-sample.tra`
SAMPLE_SHA256 = hashlib.sha256(SAMPLE.read_bytes()).hexdigest()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No PENDIGITS_PATH, no shared copy, no UCI: the cache folder under `tmp_path`."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("PENDIGITS_PATH", raising=False)
    monkeypatch.delenv("PENDIGITS_URL", raising=False)
    monkeypatch.setattr(source, "SHARED_COPY", tmp_path / "no-shared" / FILE_NAME)
    offline = (tmp_path / "offline").as_uri()
    monkeypatch.setattr(source, "PENDIGITS_URL", f"{offline}/{FILE_NAME}.Z")
    monkeypatch.setattr(source, "PENDIGITS_ZIP_URL", f"{offline}/pendigits.zip")
    return tmp_path / "keras" / "datasets"


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def labels(path: Path | None = None) -> list[int]:
    return [d.label for d in load_pendigits(path)]


def test_first_call_downloads_and_caches(cache: Path) -> None:
    assert default_pendigits_path() == cache / FILE_NAME
    assert not source.pendigits_available()
    path = fetch_pendigits(SAMPLE_Z.as_uri(), sha256=SAMPLE_SHA256)
    assert path == cache / FILE_NAME and files_in(cache) == [FILE_NAME]
    assert path.read_bytes() == SAMPLE.read_bytes()
    assert source.pendigits_available()
    assert labels() == labels(SAMPLE)


def test_second_call_reads_the_cache_without_the_url(cache: Path, tmp_path: Path) -> None:
    fetch_pendigits(SAMPLE_Z.as_uri(), sha256=SAMPLE_SHA256)
    gone = (tmp_path / "gone.tra.Z").as_uri()
    assert fetch_pendigits(gone, sha256=SAMPLE_SHA256) == cache / FILE_NAME
    assert labels() == labels(SAMPLE)  # default URL and checksum: neither is needed


@pytest.mark.parametrize("expected", ["0" * 64, PENDIGITS_SHA256])
def test_wrong_checksum_raises_and_caches_nothing(cache: Path, expected: str) -> None:
    with pytest.raises(PenDigitsChecksumError) as caught:
        fetch_pendigits(SAMPLE_Z.as_uri(), sha256=expected)
    assert expected in str(caught.value) and SAMPLE_SHA256 in str(caught.value)
    assert "PENDIGITS_PATH" in str(caught.value)
    assert files_in(cache) == []


def test_unreachable_url_says_what_to_do(cache: Path, tmp_path: Path) -> None:
    missing = (tmp_path / "missing.tra.Z").as_uri()
    with pytest.raises(PenDigitsNotFoundError, match="PENDIGITS_PATH") as caught:
        fetch_pendigits(missing, sha256=SAMPLE_SHA256)
    assert missing in str(caught.value)
    assert files_in(cache) == []


def test_offline_load_names_the_variable_and_both_uci_urls(cache: Path) -> None:
    with pytest.raises(PenDigitsNotFoundError) as caught:
        load_pendigits()
    message = str(caught.value)
    assert "PENDIGITS_PATH" in message
    assert source.PENDIGITS_URL in message and source.PENDIGITS_ZIP_URL in message


def test_download_address_from_the_environment(cache: Path, monkeypatch) -> None:
    monkeypatch.setenv("PENDIGITS_URL", SAMPLE_Z.as_uri())
    assert fetch_pendigits(sha256=SAMPLE_SHA256) == cache / FILE_NAME


def test_plain_and_zipped_downloads(cache: Path, tmp_path: Path) -> None:
    # UCI's newer archive of dataset 81 holds pendigits-orig.tra.Z among other files
    archive = tmp_path / "pendigits.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("pendigits.names", "not this one")
        zipped.write(SAMPLE_Z, f"{FILE_NAME}.Z")
    fetch_pendigits(archive.as_uri(), sha256=SAMPLE_SHA256)
    assert (cache / FILE_NAME).read_bytes() == SAMPLE.read_bytes()
    (cache / FILE_NAME).unlink()
    fetch_pendigits(SAMPLE.as_uri(), sha256=SAMPLE_SHA256)
    assert (cache / FILE_NAME).read_bytes() == SAMPLE.read_bytes()


def test_a_zip_without_the_file_is_refused(cache: Path, tmp_path: Path) -> None:
    archive = tmp_path / "other.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("pendigits.tra", "the 16-number version")
    with pytest.raises(PenDigitsNotFoundError, match="neither"):
        fetch_pendigits(archive.as_uri(), sha256=SAMPLE_SHA256)


def test_a_failed_write_leaves_no_partial_file(cache: Path, monkeypatch) -> None:
    def no_rename(*_):
        raise OSError("disk full")

    monkeypatch.setattr(source.os, "replace", no_rename)
    with pytest.raises(OSError, match="disk full"):
        fetch_pendigits(SAMPLE_Z.as_uri(), sha256=SAMPLE_SHA256)
    assert files_in(cache) == []


def test_environment_then_shared_copy_then_cache(cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(source, "SHARED_COPY", SAMPLE)
    assert default_pendigits_path() == SAMPLE
    assert fetch_pendigits(sha256="never checked") == SAMPLE
    monkeypatch.setenv("PENDIGITS_PATH", str(SAMPLE_Z))
    assert default_pendigits_path() == SAMPLE_Z


def test_a_missing_pendigits_path_is_not_downloaded(cache: Path, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PENDIGITS_PATH", str(tmp_path / "typo.tra"))
    monkeypatch.setenv("PENDIGITS_URL", SAMPLE_Z.as_uri())
    with pytest.raises(PenDigitsNotFoundError, match="typo.tra"):
        load_pendigits()
    assert files_in(cache) == []


def test_cache_dir_follows_keras(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    assert pendigits_cache_dir() == tmp_path / "kh" / "datasets"
    monkeypatch.delenv("KERAS_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert pendigits_cache_dir() == tmp_path / ".keras" / "datasets"  # beside mnist.npz
