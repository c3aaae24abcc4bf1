"""Where the app keeps what it writes at run time, and the one place that decides it.

On one machine, shared state is SQLite files in the state folder (`MNIST_STATE_DIR`; by
default `var/` in the repository, which git ignores), beside the worker's log and the
models trained here. With `MNIST_QUEUE_URL=redis://host:6379/0` it is that Redis, so
every web replica and worker shares it. `open_backend` decides, once, and every store
opens through what it gives:

    backend = open_backend()                   # from the environment
    backend.sqlite_path("jobs.db")             # a SQLite store's file (SQLite only)
    backend.redis                              # the Redis client (Redis only)
    backend.durability()                       # whether a crash keeps what was written

Opening Redis checks that it persists writes (append-only); when it does not, or it
cannot be told, the log says so (`durability` gives the words for a page).
Shipped files (`models/`) are never written here.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

STATE_DIR_ENV = "MNIST_STATE_DIR"
QUEUE_URL_ENV = "MNIST_QUEUE_URL"
DEFAULT_STATE_DIR = Path(__file__).resolve().parents[2] / "var"
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
SQLITE, REDIS = "SQLite", "Redis"

log = logging.getLogger(__name__)


def state_dir() -> Path:
    """The state folder: `MNIST_STATE_DIR`, else `var/` beside `mnist_core`."""
    return Path(os.environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


@dataclass(frozen=True)
class Durability:
    """Whether what the stores write survives a crash of where they keep it.

    `kept`: True (SQLite, or Redis append-only), False (Redis without append-only), or
    None (it cannot be checked: Redis refuses `CONFIG`, as managed ones may, or cannot
    be reached just now). `message` says so in plain words; None when all is well."""

    kept: bool | None
    message: str | None = None


class Backend:
    """Where shared state lives: SQLite files in `folder`, or the Redis at `url`.

    Made by `open_backend`; constructing one does no I/O. The job records, the queue's
    messages and the owner book each open their store through one of these, so a
    process that opens them all decides once and shares one Redis connection pool."""

    def __init__(self, url: str | None, folder: Path):
        self.url = url or None
        self.folder = Path(folder)
        self.kind = SQLITE if self.url is None else REDIS
        self._redis = None
        self._durability: Durability | None = None
        self._lock = threading.Lock()
        if self.url is not None:
            import redis  # only where Redis is configured

            self._redis = redis.Redis.from_url(self.url)

    def __repr__(self) -> str:
        return f"Backend({self.where})"

    @property
    def where(self) -> str:
        """The Redis (without its password) or the state folder, for logs and pages."""
        if self.url is None:
            return str(self.folder)
        parts = urlsplit(self.url)
        if parts.password:
            host = parts.hostname or ""
            netloc = f"{parts.username or ''}:***@{host}" + (
                f":{parts.port}" if parts.port else "")
            return parts._replace(netloc=netloc).geturl()
        return self.url

    @property
    def redis(self):
        """The Redis client every Redis store shares (`redis.Redis`)."""
        if self._redis is None:
            raise ValueError(f"the shared state is SQLite in {self.folder}, not Redis")
        return self._redis

    def sqlite_path(self, filename: str) -> Path:
        """Where the SQLite store `filename` lives (the caller creates it)."""
        if self.url is not None:
            raise ValueError(f"the shared state is the Redis at {self.where}, not SQLite")
        return self.folder / filename

    def env(self) -> dict[str, str]:
        """The environment variables a process needs to open this same backend."""
        return {QUEUE_URL_ENV: self.url or "", STATE_DIR_ENV: str(self.folder)}

    def durability(self) -> Durability:
        """Whether a crash keeps what was written: asked of Redis once (again while it
        cannot be reached), and logged the first time the answer is known."""
        with self._lock:
            if self._durability is not None:
                return self._durability
            if self._redis is None:
                found = Durability(True)  # SQLite writes each transaction to disk
            else:
                import redis

                try:
                    found = _redis_durability(self._redis, self.where)
                except (redis.ConnectionError, redis.TimeoutError) as err:
                    unknown = Durability(None, (
                        f"whether the Redis at {self.where} keeps what is written through "
                        f"a crash is not known yet: it cannot be reached ({err})"))
                    log.warning("%s", unknown.message)
                    return unknown  # asked again next time
            self._durability = found
        if found.message:
            log.warning("%s", found.message)
        else:
            log.info("shared state: %s at %s, writes kept through a crash", self.kind,
                     self.where)
        return found


def open_backend(url: str | None = None, state: str | os.PathLike | None = None, *,
                 check: bool = True) -> Backend:
    """The one place that decides where shared state lives.

    `url`: a `redis://` (`rediss://`, `unix://`) URL, or "" for SQLite files in `state`
    (default: the state folder); None reads `MNIST_QUEUE_URL`. Anything else is a
    `ValueError` naming it. Opening Redis checks, unless `check` is False, that it
    persists writes, and logs when it does not (`Backend.durability`).
    """
    if url is None:
        url = os.environ.get(QUEUE_URL_ENV)
    url = url or None
    if url is not None and not url.startswith(REDIS_SCHEMES):
        raise ValueError(
            f"{QUEUE_URL_ENV} must be empty (SQLite in the state folder) or a redis:// "
            f"URL, got {url!r}"
        )
    backend = Backend(url, Path(state) if state is not None else state_dir())
    if check and backend.url is not None:
        backend.durability()
    return backend


def _redis_durability(client, where: str) -> Durability:
    """Whether the Redis of `client` runs append-only (`CONFIG GET appendonly`);
    raises `redis.ConnectionError` while it cannot be reached.

    With only its default snapshots, a crash loses every write since the last one:
    runs queued since then vanish from the queue and from the records."""
    import redis

    fix = ("run it append-only (`redis-server --appendonly yes --appendfsync everysec`, "
           "or `appendonly yes` in redis.conf; docs/deploying.md)")
    try:
        found = client.config_get("appendonly")
    except redis.ResponseError as err:  # CONFIG renamed or refused (managed Redis, ACLs)
        return Durability(None, (
            f"whether the Redis at {where} keeps what is written through a crash cannot "
            f"be checked: it refuses CONFIG GET ({err}). Unless it runs append-only, a "
            f"crash loses the runs queued since its last snapshot: {fix}"))
    value = {_text(k): _text(v) for k, v in (found or {}).items()}.get("appendonly")
    if value == "yes":
        return Durability(True)
    return Durability(False, (
        f"the Redis at {where} does not run append-only (appendonly is {value or 'unset'})"
        f", so a crash or restart of it loses the runs queued, and how runs ended, since "
        f"its last snapshot: {fix}"))


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
