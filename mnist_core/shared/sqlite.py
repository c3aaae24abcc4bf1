"""SQLite files of the shared state, as every store on them opens them.

A `SqliteFile` gives each thread its own connection (write-ahead log, a 30 s busy
timeout), so threads and processes share one file safely, and `transaction()` makes one
read-modify-write atomic against every other writer. Opening one checks the file first:
a damaged file (random bytes, cut short) is moved aside, never deleted, and a fresh one
starts in its place (`set_aside` says where it went).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import sqlite3
import threading
import time
from pathlib import Path

DAMAGED = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}  # SQLite's words for a damaged file

log = logging.getLogger(__name__)


class SqliteFile:
    """The SQLite file at `path`, checked (and set aside if damaged) as it is opened;
    `pragmas` are run on each new connection after the write-ahead log is turned on."""

    def __init__(self, path: str | Path, *pragmas: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.pragmas = ("pragma journal_mode=wal", "pragma synchronous=normal", *pragmas)
        self.set_aside = set_aside_if_damaged(self.path)
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, in autocommit mode: statements outside
        `transaction()` each commit alone."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            for pragma in self.pragmas:
                db.execute(pragma)
            self._local.db = db
        return db

    def transaction(self, write: bool = True) -> Transaction:
        """This thread's connection inside one transaction: a writing one holds the write
        lock from its start; a reading one sees one snapshot and blocks no writer."""
        return Transaction(self.connection(), "begin immediate" if write else "begin")


class Transaction:
    """`with` block around one transaction. `begin immediate` holds SQLite's write lock
    from the first statement, so a read-modify-write is atomic across processes."""

    def __init__(self, db: sqlite3.Connection, begin: str):
        self.db, self.begin = db, begin

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute(self.begin)
        return self.db

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("rollback" if exc_type else "commit")


def is_damage(err: BaseException) -> bool:
    """Whether a SQLite error says the file itself is damaged (not locked, not read-only)."""
    return isinstance(err, sqlite3.DatabaseError) and (
        getattr(err, "sqlite_errorname", None) in DAMAGED
        or "malformed" in str(err) or "not a database" in str(err)
    )


def set_aside_if_damaged(path: Path) -> Path | None:
    """If `path` is a damaged SQLite file (random bytes, cut short), move it aside as
    `<name>.damaged-<UTC time>` (never deleted), with its -wal and -shm files, so a fresh
    one starts in its place; returns where it went, or None when it is sound or absent.
    Processes opening it at once take turns (a lock file), so one moves it, once."""
    if not path.exists():
        return None
    lock = path.with_name(f".{path.name}.check-lock")
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        problem = _damage(path)
        if problem is None:
            return None
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        aside = path.with_name(f"{path.name}.damaged-{stamp}")
        n = 1
        while aside.exists():
            n += 1
            aside = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
        for suffix in ("-wal", "-shm", ""):
            part = path.with_name(path.name + suffix)
            if part.exists():
                part.rename(aside.with_name(aside.name + suffix))
    log.error("%s is damaged (%s): moved it to %s and started a fresh one", path, problem,
              aside)
    return aside


def _damage(path: Path) -> str | None:
    """What is wrong with the SQLite file at `path`, or None if SQLite finds it sound."""
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=30)) as db:
            rows = db.execute("pragma quick_check").fetchall()
    except sqlite3.DatabaseError as err:
        if is_damage(err):
            return str(err)
        raise
    return None if rows == [("ok",)] else "; ".join(str(row[0]) for row in rows[:3])
