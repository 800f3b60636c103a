"""Named locks that one thread of one process holds at a time: a request's run, the retention run.

``exclusive(db, name)`` never waits: it yields True to the holder and False to anyone else, who
then leaves the work to the holder. Across processes the lock is a PostgreSQL session advisory
lock (the number is the first 8 bytes of SHA-256 of the name), or on SQLite a one-byte record lock
(``fcntl.lockf``) at that number in one lock file beside the database. Inside a process a set of
held names keeps threads apart, because record locks belong to the process, not the thread. A
process that dies lets go of its locks with it, which is how a stale run is recognised.
The lock file stays open for the process's life: closing any descriptor of a file drops every
record lock the process holds on it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from consent_service.db import Database

_guard = threading.Lock()
_held: set[tuple[str, str]] = set()  # (database URL, name) held by a thread of this process
_files: dict[str, int] = {}  # lock file -> the descriptor kept open


def lock_number(name: str) -> int:
    """The signed 64-bit number of ``name`` (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def exclusive(db: Database, name: str) -> Iterator[bool]:
    """Hold ``name`` for the block; yields False (and holds nothing) when it is held elsewhere."""
    key = (str(db.engine.url), name)
    with _guard:
        if key in _held:
            got = False
        else:
            _held.add(key)
            got = True
    if not got:
        yield False
        return
    try:
        with _sqlite_lock(db, name) if db.is_sqlite else _advisory_lock(db, name) as mine:
            yield mine
    finally:
        with _guard:
            _held.discard(key)


@contextmanager
def _advisory_lock(db: Database, name: str) -> Iterator[bool]:
    number = lock_number(name)
    with db.engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:n)"), {"n": number}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:n)"), {"n": number})
                conn.commit()


@contextmanager
def _sqlite_lock(db: Database, name: str) -> Iterator[bool]:
    database = db.engine.url.database or ""
    if not database or database == ":memory:":  # a database only this process can open
        yield True
        return
    path = database + "-locks"
    with _guard:
        if path not in _files:
            _files[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fd = _files[path]
    offset = lock_number(name) & (2**62 - 1)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, offset)
    except OSError:  # held by another process (EACCES or EAGAIN)
        yield False
        return
    try:
        yield True
    finally:
        fcntl.lockf(fd, fcntl.LOCK_UN, 1, offset)
