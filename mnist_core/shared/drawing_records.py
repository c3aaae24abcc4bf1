"""How kept drawings are stored: rows on SQLite (`drawings.db`) or Redis, each write atomic.

`drawings.DrawingsStore` checks what it is given and turns rows into `KeptDrawing`s; the
rows here hold the images PNG-compressed, as stored. Deleting a row removes its pixels:
SQLite overwrites deleted rows (`secure_delete`) and empties its write-ahead log after
a delete; Redis deletes the keys. Nothing about a drawing is logged.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path
from typing import NamedTuple

from mnist_core.shared.sqlite import SqliteFile
from mnist_core.shared.state import REDIS, Backend

log = logging.getLogger(__name__)


class Row(NamedTuple):
    """A drawing as stored: its images PNG-compressed, its reading as JSON."""

    id: str
    owner: str
    label: int
    created: float
    model: str
    probabilities: str
    drawing: bytes
    image28: bytes


def _after(newest: float | None) -> float:
    """Now, or just after `newest` if that is not earlier: one owner's drawings each
    have their own time, so newest first is one order."""
    now = time.time()
    return now if newest is None or now > newest else math.nextafter(newest, math.inf)


class DrawingRecords:
    """Rows by owner, and who shares; SQLite and Redis implement it, each write atomic."""

    set_aside: Path | None = None  # where a damaged file was moved as it was opened

    def add(self, row: Row, most: int) -> float | None:
        """Add `row` with its time (returned), unless its owner has `most` rows (None)."""
        raise NotImplementedError

    def rows(self, owner: str) -> list[Row]:
        """`owner`'s rows, newest first."""
        raise NotImplementedError

    def counts(self, owner: str) -> dict[int, int]:
        raise NotImplementedError

    def set_label(self, owner: str, drawing_id: str, label: int) -> bool:
        """Whether `owner` had the row (and it is relabelled)."""
        raise NotImplementedError

    def remove(self, owner: str, drawing_id: str) -> bool:
        """Whether `owner` had the row (and it is gone)."""
        raise NotImplementedError

    def remove_all(self, owner: str) -> int:
        raise NotImplementedError

    def set_shared(self, owner: str, shared: bool) -> None:
        raise NotImplementedError

    def is_shared(self, owner: str) -> bool:
        raise NotImplementedError

    def sharing(self) -> list[str]:
        """The owners who share their drawings."""
        raise NotImplementedError


_COLUMNS = ", ".join(Row._fields)


class SqliteDrawingRecords(DrawingRecords):
    """Rows in `drawings.db`. `secure_delete` has SQLite overwrite what it deletes, and
    after a delete the write-ahead log, which holds earlier copies of changed pages, is
    emptied, so deleted pixels stay in neither file."""

    def __init__(self, path: Path):
        self.file = SqliteFile(path, "pragma secure_delete=on")
        self.set_aside = self.file.set_aside
        with self.file.transaction() as db:
            db.execute(
                "create table if not exists drawings (id text primary key, owner text not "
                "null, label integer not null, created real not null, model text not null, "
                "probabilities text not null, drawing blob not null, image28 blob not null)")
            db.execute("create index if not exists drawings_of_owner on drawings "
                       "(owner, created)")
            db.execute("create table if not exists sharing (owner text primary key)")

    def add(self, row, most):
        with self.file.transaction() as db:  # `begin immediate`: count and add as one
            count, newest = db.execute(
                "select count(*), max(created) from drawings where owner = ?", (row.owner,)
            ).fetchone()
            if count >= most:
                return None
            row = row._replace(created=_after(newest))
            db.execute(f"insert into drawings ({_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?, ?)",
                       row)
        return row.created

    def rows(self, owner):
        with self.file.transaction(write=False) as db:
            found = db.execute(f"select {_COLUMNS} from drawings where owner = ? order by "
                               "created desc", (owner,)).fetchall()
        return [Row(*row) for row in found]

    def counts(self, owner):
        with self.file.transaction(write=False) as db:
            found = db.execute("select label, count(*) from drawings where owner = ? group "
                               "by label", (owner,)).fetchall()
        return dict(found)

    def set_label(self, owner, drawing_id, label):
        with self.file.transaction() as db:
            changed = db.execute("update drawings set label = ? where id = ? and owner = ?",
                                 (label, drawing_id, owner)).rowcount
        return changed == 1

    def remove(self, owner, drawing_id):
        with self.file.transaction() as db:
            gone = db.execute("delete from drawings where id = ? and owner = ?",
                              (drawing_id, owner)).rowcount
        self._empty_log()
        return gone == 1

    def remove_all(self, owner):
        with self.file.transaction() as db:
            gone = db.execute("delete from drawings where owner = ?", (owner,)).rowcount
        self._empty_log()
        return gone

    def _empty_log(self) -> None:
        """Copy the write-ahead log into the file and cut it to nothing; it waits (the busy
        timeout) for readers of older pages to finish."""
        busy, _, _ = self.file.connection().execute(
            "pragma wal_checkpoint(truncate)").fetchone()
        if busy:
            log.warning("%s: its write-ahead log could not be emptied after a delete (busy)"
                        "; the next delete tries again", self.file.path.name)

    def set_shared(self, owner, shared):
        with self.file.transaction() as db:
            if shared:
                db.execute("insert or ignore into sharing (owner) values (?)", (owner,))
            else:
                db.execute("delete from sharing where owner = ?", (owner,))

    def is_shared(self, owner):
        row = self.file.connection().execute(
            "select 1 from sharing where owner = ?", (owner,)).fetchone()
        return row is not None

    def sharing(self):
        return [row[0] for row in self.file.connection().execute("select owner from sharing")]


class RedisDrawingRecords(DrawingRecords):
    """Each row a hash under `<prefix>:drawing:<id>`, each owner's ids a sorted set by
    time under `<prefix>:of:<owner>`, the owners who share a set `<prefix>:sharing`.
    Every write that must look first is WATCH, then MULTI/EXEC: all of it or none."""

    def __init__(self, client, prefix: str):
        self.client, self.prefix = client, prefix
        self._sharing = f"{prefix}:sharing"

    def _drawing(self, drawing_id: str) -> str:
        return f"{self.prefix}:drawing:{drawing_id}"

    def _index(self, owner: str) -> str:
        return f"{self.prefix}:of:{owner}"

    def add(self, row, most):
        index = self._index(row.owner)

        def put(pipe) -> float | None:
            if pipe.zcard(index) >= most:
                return None
            newest = pipe.zrevrange(index, 0, 0, withscores=True)
            created = _after(newest[0][1] if newest else None)
            pipe.multi()
            pipe.hset(self._drawing(row.id), mapping={
                name: repr(value) if name == "created" else value
                for name, value in row._replace(created=created)._asdict().items()})
            pipe.zadd(index, {row.id: created})
            return created

        return self.client.transaction(put, index, value_from_callable=True)

    def _fields(self, owner: str, *names: str) -> list[list]:
        """`names` of each of `owner`'s rows, newest first (rows deleted meanwhile left
        out)."""
        ids = [_text(i) for i in self.client.zrevrange(self._index(owner), 0, -1)]
        pipe = self.client.pipeline(transaction=False)
        for drawing_id in ids:
            pipe.hmget(self._drawing(drawing_id), names)
        return [values for values in pipe.execute() if values[0] is not None]

    def rows(self, owner):
        return [
            Row(_text(i), _text(o), int(label), float(created), _text(model), _text(reading),
                drawing, image28)
            for i, o, label, created, model, reading, drawing, image28
            in self._fields(owner, *Row._fields)
        ]

    def counts(self, owner):
        counts: dict[int, int] = {}
        for (label,) in self._fields(owner, "label"):
            counts[int(label)] = counts.get(int(label), 0) + 1
        return counts

    def _change_own(self, owner: str, drawing_id: str, change) -> bool:
        """Run `change(pipe)` in MULTI if the row is `owner`'s; whether it was."""
        key = self._drawing(drawing_id)

        def check(pipe) -> bool:
            if _text(pipe.hget(key, "owner") or b"") != owner:
                return False
            pipe.multi()
            change(pipe)
            return True

        return self.client.transaction(check, key, value_from_callable=True)

    def set_label(self, owner, drawing_id, label):
        return self._change_own(
            owner, drawing_id, lambda pipe: pipe.hset(self._drawing(drawing_id), "label",
                                                      label))

    def remove(self, owner, drawing_id):
        def drop(pipe) -> None:
            pipe.delete(self._drawing(drawing_id))
            pipe.zrem(self._index(owner), drawing_id)

        return self._change_own(owner, drawing_id, drop)

    def remove_all(self, owner):
        index = self._index(owner)

        def drop(pipe) -> int:
            ids = [_text(i) for i in pipe.zrange(index, 0, -1)]
            pipe.multi()
            if ids:
                pipe.delete(*(self._drawing(i) for i in ids))
            pipe.delete(index)
            return len(ids)

        return self.client.transaction(drop, index, value_from_callable=True)

    def set_shared(self, owner, shared):
        if shared:
            self.client.sadd(self._sharing, owner)
        else:
            self.client.srem(self._sharing, owner)

    def is_shared(self, owner):
        return bool(self.client.sismember(self._sharing, owner))

    def sharing(self):
        return [_text(owner) for owner in self.client.smembers(self._sharing)]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def open_drawing_records(backend: Backend, prefix: str) -> DrawingRecords:
    """The rows where `backend` keeps shared state: `drawings.db` in its state folder, or
    keys under `prefix` in its Redis."""
    if backend.kind == REDIS:
        return RedisDrawingRecords(backend.redis, prefix)
    return SqliteDrawingRecords(backend.sqlite_path("drawings.db"))
