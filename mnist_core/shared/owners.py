"""Who owns what: visitors' owner ids, and the personal codes that move one to another
browser.

A visitor's runs and models carry their owner id, a random token the app keeps in a
cookie of their browser (never in a page address). A browser that takes another
identity on purpose, with that identity's personal code, is linked to it here, so its
own token then stands for the other owner:

    book = OwnerBook(open_backend())
    code = book.code(owner)                 # 'K3ZD-8QWN-...', shown only to the owner
    book.claim(code, browser, address)      # in another browser: owner, from now on
    book.owner_of(browser)                  # -> owner
    book.renew(owner)                       # a new code; the old one stops working

Wrong codes are counted per client address: `max_wrong` of them within `window`
seconds and that address must wait. The book lives where the job records do, in the
shared state's backend (`state.open_backend`): `owners.db` in the state folder, or the
Redis of `MNIST_QUEUE_URL` (every web replica sees the same codes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import sqlite3
import threading
import time
from pathlib import Path

from mnist_core.errors import CodeError, OwnerError, TooManyTriesError
from mnist_core.shared.state import REDIS, Backend

OWNER_PREFIX = "o_"
OWNER_TOKEN_BYTES = 24  # 192 random bits, 32 URL-safe characters
_OWNER_PATTERN = re.compile(r"o_[A-Za-z0-9_-]{32}")

# Crockford's base 32: no I, L, O or U, so a code read aloud or copied by hand survives.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 80 random bits, shown as four groups of four
_CODE_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})

MAX_WRONG = 5  # wrong codes per client address ...
WINDOW = 600.0  # ... within this many seconds


def new_owner_id() -> str:
    """A fresh random owner id: 'o_' and 32 URL-safe characters (192 random bits)."""
    return OWNER_PREFIX + secrets.token_urlsafe(OWNER_TOKEN_BYTES)


def check_owner(owner: str) -> str:
    """`owner` if it is an owner id as `new_owner_id` makes them, else `OwnerError`.

    The hex ids of earlier versions, which travelled in page addresses, are refused.
    """
    if not isinstance(owner, str) or not _OWNER_PATTERN.fullmatch(owner):
        shown = repr(owner) if not isinstance(owner, str) or len(owner) <= 12 else (
            repr(owner[:12]) + "…")
        raise OwnerError(
            f"invalid owner id {shown}: an owner id is {OWNER_PREFIX!r} and 32 URL-safe "
            "characters, made by the app (ids from page addresses are no longer accepted)"
        )
    return owner


def account_owner(issuer: str, subject: str, secret: str) -> str:
    """The owner id of a signed-in account: the same on every device, and unguessable
    without the deployment's `secret` (so nobody can forge a cookie for it)."""
    if not secret:
        raise OwnerError("an account's owner id needs the deployment's cookie secret")
    digest = hmac.new(secret.encode(), f"{issuer}\n{subject}".encode(), hashlib.sha256)
    token = base64.urlsafe_b64encode(digest.digest()[:OWNER_TOKEN_BYTES]).decode()
    return OWNER_PREFIX + token


def new_code() -> str:
    """A fresh personal code: 16 characters of Crockford's base 32 (80 random bits)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def format_code(code: str) -> str:
    """'K3ZD8QWN...' as 'K3ZD-8QWN-...', the way the page shows it."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def normalize_code(text: str) -> str:
    """The code a person typed, as stored: upper case, without dashes or spaces, with O
    read as 0 and I or L as 1. Raises `CodeError` if it cannot be a code."""
    code = str(text).strip().upper().translate(_CODE_LOOKALIKES)
    if len(code) != CODE_LENGTH or set(code) - set(CODE_ALPHABET):
        raise CodeError(
            f"{str(text).strip()[:40]!r} is not a personal code: a code is "
            f"{CODE_LENGTH} letters and digits, like {format_code('K3ZD8QWN2HXT5RMA')}"
        )
    return code


class OwnerBook:
    """Personal codes, browsers linked to another owner, and wrong tries per address,
    kept where `backend` (`state.open_backend`) keeps shared state: `owners.db` in its
    state folder, or its Redis with keys under `<name>:owners`.
    """

    def __init__(self, backend: Backend, *, name: str = "mnist-training",
                 max_wrong: int = MAX_WRONG, window: float = WINDOW):
        self.max_wrong, self.window = max_wrong, window
        if backend.kind == REDIS:
            self._store: _Store = _RedisStore(backend.redis, prefix=f"{name}:owners")
        else:
            self._store = _SqliteStore(backend.sqlite_path("owners.db"))

    def owner_of(self, browser: str) -> str:
        """The owner the browser holding token `browser` acts as: the owner whose code it
        entered, else the token itself."""
        check_owner(browser)
        return self._store.get("link", browser) or browser

    def code(self, owner: str) -> str:
        """`owner`'s personal code (made on the first ask), formatted for showing."""
        check_owner(owner)
        code = self._store.get("code-of", owner)
        return format_code(code) if code else self.renew(owner)

    def renew(self, owner: str) -> str:
        """A new personal code for `owner`; the previous one stops working."""
        check_owner(owner)
        code = new_code()
        self._store.set_code(owner, code)
        return format_code(code)

    def claim(self, text: str, browser: str, address: str | None) -> str:
        """Link `browser` to the owner whose code `text` is; returns that owner.

        Raises `TooManyTriesError` while `address` has had `max_wrong` wrong codes in
        the last `window` seconds (even for a right one), `CodeError` for a wrong or
        malformed code (a wrong one counts against `address`)."""
        check_owner(browser)
        address = address or "unknown"
        now = time.time()
        tries = self._store.wrong_tries(address, now - self.window)
        minutes = _minutes(self.window)
        if len(tries) >= self.max_wrong:
            wait = _minutes(min(tries) + self.window - now)
            raise TooManyTriesError(
                f"too many wrong codes from your address ({self.max_wrong} in {minutes}): "
                f"try again in {wait}"
            )
        code = normalize_code(text)
        owner = self._store.get("owner-of", code)
        if owner is None:
            self._store.add_wrong_try(address, now, self.window)
            left = self.max_wrong - len(tries) - 1
            tries_left = (f"{left} more tr{'y' if left == 1 else 'ies'} in the next {minutes}"
                          if left else f"no more tries for {minutes}")
            raise CodeError(
                f"no identity has the code {format_code(code)}: check it on the Models "
                f"page of your other browser ({tries_left})"
            )
        if owner != browser:
            self._store.set("link", browser, owner)
        return owner


def _minutes(seconds: float) -> str:
    """'1 minute', '10 minutes': whole minutes, rounded up, at least one."""
    count = max(1, math.ceil(seconds / 60))
    return f"{count} minute{'' if count == 1 else 's'}"


class _Store:
    """Key-value pairs by kind ('code-of' owner, 'owner-of' code, 'link' browser) and
    wrong tries by address; SQLite and Redis implement it."""

    def get(self, kind: str, key: str) -> str | None:
        raise NotImplementedError

    def set(self, kind: str, key: str, value: str) -> None:
        raise NotImplementedError

    def set_code(self, owner: str, code: str) -> None:
        """Give `owner` the code `code`, forgetting their previous one, atomically."""
        raise NotImplementedError

    def wrong_tries(self, address: str, since: float) -> list[float]:
        raise NotImplementedError

    def add_wrong_try(self, address: str, at: float, window: float) -> None:
        raise NotImplementedError


class _SqliteStore(_Store):
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        with self._db() as db:
            db.execute("create table if not exists pairs (kind text, key text, value text,"
                       " primary key (kind, key))")
            db.execute("create table if not exists wrong_tries (address text, at real)")

    def _db(self) -> sqlite3.Connection:
        """This thread's connection; `with` it for one transaction."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = sqlite3.connect(self.path, timeout=30)
            db.execute("pragma journal_mode=wal")
        return db

    def get(self, kind, key):
        row = self._db().execute(
            "select value from pairs where kind = ? and key = ?", (kind, key)).fetchone()
        return row[0] if row else None

    def set(self, kind, key, value):
        with self._db() as db:
            db.execute("insert or replace into pairs values (?, ?, ?)", (kind, key, value))

    def set_code(self, owner, code):
        with self._db() as db:
            db.execute("delete from pairs where kind = 'owner-of' and value = ?", (owner,))
            db.execute("insert or replace into pairs values ('code-of', ?, ?)", (owner, code))
            db.execute("insert into pairs values ('owner-of', ?, ?)", (code, owner))

    def wrong_tries(self, address, since):
        rows = self._db().execute(
            "select at from wrong_tries where address = ? and at > ?", (address, since))
        return [row[0] for row in rows]

    def add_wrong_try(self, address, at, window):
        with self._db() as db:
            db.execute("delete from wrong_tries where at <= ?", (at - window,))
            db.execute("insert into wrong_tries values (?, ?)", (address, at))


class _RedisStore(_Store):
    def __init__(self, client, prefix: str):
        self.client, self.prefix = client, prefix

    def _key(self, kind: str, key: str) -> str:
        return f"{self.prefix}:{kind}:{key}"

    def get(self, kind, key):
        value = self.client.get(self._key(kind, key))
        return value.decode() if isinstance(value, bytes) else value

    def set(self, kind, key, value):
        self.client.set(self._key(kind, key), value)

    def set_code(self, owner, code):
        mine = self._key("code-of", owner)

        def swap(pipe) -> None:
            old = pipe.get(mine)
            pipe.multi()
            if old:
                pipe.delete(self._key("owner-of", old.decode()))
            pipe.set(mine, code)
            pipe.set(self._key("owner-of", code), owner)

        self.client.transaction(swap, mine)  # retried if another writer got in between

    def wrong_tries(self, address, since):
        found = self.client.zrangebyscore(
            self._key("wrong", address), f"({since}", "+inf", withscores=True)
        return [score for _, score in found]

    def add_wrong_try(self, address, at, window):
        key = self._key("wrong", address)
        pipe = self.client.pipeline()
        pipe.zremrangebyscore(key, "-inf", at - window)
        pipe.zadd(key, {secrets.token_hex(8): at})
        pipe.expire(key, math.ceil(window))
        pipe.execute()
