"""`mnist_core.shared.owners`: owner ids' format, personal codes, their renewal and the limit
on wrong codes per client address, on SQLite and on a real Redis, each opened through
the shared-state backend (`state.open_backend`)."""

from __future__ import annotations

import re
import time

import pytest

from mnist_core.errors import CodeError, OwnerError, TooManyTriesError
from mnist_core.shared import owners
from mnist_core.shared.owners import OwnerBook, check_owner, new_owner_id
from mnist_core.shared.state import open_backend

CODE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}")


def test_new_owner_ids_are_random_url_safe_tokens_check_owner_accepts():
    ids = {new_owner_id() for _ in range(200)}
    assert len(ids) == 200
    for owner in ids:
        assert re.fullmatch(r"o_[A-Za-z0-9_-]{32}", owner) and check_owner(owner) == owner


@pytest.mark.parametrize("bad", [
    "5f0c8a3e9b1d4c2aa6e7f8091b2c3d4e",  # a uuid4 hex id, from an old page address
    "alice-visitor-1", "", "o_short", "o_" + "a" * 31 + "!", "o_" + "a" * 33,
    " o_" + "a" * 32, None, 42,
])
def test_check_owner_refuses_anything_else_with_a_clear_error(bad):
    with pytest.raises(OwnerError, match="invalid owner id .*made by the app"):
        check_owner(bad)


def test_an_accounts_owner_id_is_stable_well_formed_and_needs_the_secret():
    alice = owners.account_owner("https://accounts.example", "alice", "s3cret")
    assert check_owner(alice) == alice
    assert owners.account_owner("https://accounts.example", "alice", "s3cret") == alice
    assert owners.account_owner("https://accounts.example", "bob", "s3cret") != alice
    assert owners.account_owner("https://accounts.example", "alice", "other") != alice
    with pytest.raises(OwnerError, match="cookie secret"):
        owners.account_owner("https://accounts.example", "alice", "")


def test_codes_are_16_crockford_characters_and_typing_slips_are_forgiven():
    codes = {owners.new_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == 16 for c in codes)
    assert set("".join(codes)) <= set(owners.CODE_ALPHABET) and not set("ILOU") & set(
        owners.CODE_ALPHABET)
    assert owners.format_code("K3ZD8QWN2HXT5RMA") == "K3ZD-8QWN-2HXT-5RMA"
    assert owners.normalize_code(" k3zd-8qwn 2hxt-5rma ") == "K3ZD8QWN2HXT5RMA"
    assert owners.normalize_code("O1IL-0000-0000-0000") == "0111000000000000"


@pytest.mark.parametrize(
    "bad", ["", "K3ZD-8QWN-2HXT", "K3ZD-8QWN-2HXT-5RMA-0", "K3ZD-8QWN-2HXT-5RMU"])
def test_malformed_codes_are_refused_with_what_a_code_looks_like(bad):
    with pytest.raises(CodeError, match="is not a personal code: a code is 16 letters"):
        owners.normalize_code(bad)


@pytest.fixture(params=["sqlite", "redis"])
def book(request, tmp_path):
    """An owner book on SQLite in a private state folder, or on a real Redis."""
    url = request.getfixturevalue("redis_url") if request.param == "redis" else None
    return OwnerBook(open_backend(url or "", tmp_path / "state"), max_wrong=3, window=60)


def test_a_code_moves_an_identity_to_another_browser(book):
    alice, laptop, phone = new_owner_id(), new_owner_id(), new_owner_id()
    code = book.code(alice)
    assert CODE.fullmatch(code) and book.code(alice) == code  # kept, not made anew
    assert book.owner_of(phone) == phone  # a browser is its own owner at first
    assert book.claim(code.lower().replace("-", " "), phone, "10.0.0.2") == alice
    assert book.owner_of(phone) == alice and book.owner_of(laptop) == laptop
    assert book.claim(code, alice, "10.0.0.1") == alice  # one's own code: nothing changes
    assert book.owner_of(alice) == alice


def test_renewing_a_code_makes_a_new_one_and_the_old_one_stops_working(book):
    alice, bob, phone = new_owner_id(), new_owner_id(), new_owner_id()
    old = book.code(alice)
    new = book.renew(alice)
    assert new != old and book.code(alice) == new
    with pytest.raises(CodeError, match="no identity has the code"):
        book.claim(old, phone, "10.0.0.2")
    assert book.owner_of(phone) == phone
    assert book.claim(new, phone, "10.0.0.2") == alice
    assert book.code(bob) not in (old, new)


def test_wrong_codes_are_limited_per_client_address(book):
    alice, phone = new_owner_id(), new_owner_id()
    code = book.code(alice)
    wrong = "0000-0000-0000-0000"
    for _ in range(5):
        with pytest.raises(CodeError, match="not a personal code"):
            book.claim("nonsense", phone, "10.0.0.66")  # a typo is no guess: not counted
    for left in ("2 more tries in the next 1 minute", "1 more try", "no more tries for 1 minute"):
        with pytest.raises(CodeError, match=left):
            book.claim(wrong, phone, "10.0.0.66")
    # the limit reached: even the right code waits, with a clear message
    limited = r"too many wrong codes from your address \(3 in 1 minute\): try again in 1 minute"
    with pytest.raises(TooManyTriesError, match=limited):
        book.claim(code, phone, "10.0.0.66")
    assert book.owner_of(phone) == phone
    assert book.claim(code, phone, "10.0.0.67") == alice  # another address is not held up


def test_wrong_tries_older_than_the_window_no_longer_count(tmp_path, monkeypatch):
    book = OwnerBook(open_backend("", tmp_path), max_wrong=1, window=60)
    alice, phone = new_owner_id(), new_owner_id()
    code = book.code(alice)
    with pytest.raises(CodeError, match="no identity"):
        book.claim("0000-0000-0000-0000", phone, None)
    with pytest.raises(TooManyTriesError):
        book.claim(code, phone, None)
    later = time.time() + 61
    monkeypatch.setattr(owners.time, "time", lambda: later)
    assert book.claim(code, phone, None) == alice


def test_the_book_refuses_malformed_owner_ids(tmp_path):
    book = OwnerBook(open_backend("", tmp_path))
    with pytest.raises(OwnerError):
        book.code("alice")
    with pytest.raises(OwnerError):
        book.owner_of("5f0c8a3e9b1d4c2aa6e7f8091b2c3d4e")
