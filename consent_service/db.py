"""Database plumbing: engine, declarative base, column types and the unit of work.

The unit of work owns the transaction of one service call: ``with uow: ...; uow.commit()``.
Leaving the block without commit rolls back. On SQLite a writing unit of work first takes a
cross-process lock file (``WriterLock``: writers queue instead of polling) and starts with
``BEGIN IMMEDIATE`` so that two processes never both read and then fail to upgrade their lock;
on PostgreSQL writers serialise on the ledger head row instead (see ledger.chain).

Commits are durable before the service acknowledges them: SQLite runs WAL with
``synchronous=FULL`` (the WAL is fsynced at every commit, not only at checkpoints), every
PostgreSQL connection is checked for ``synchronous_commit`` and turned back on where a server,
database or role default switched it off, and on MariaDB/MySQL a server that does not flush
InnoDB's log at each commit is reported (the setting is global; the service cannot fix it).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import logging
import os
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Connection, DateTime, Engine, MetaData, create_engine, event
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from consent_service.files import secure_sqlite

log = logging.getLogger(__name__)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps naive UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use UTC-aware datetimes")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def columns_of(
    row: Base, *, exclude: Collection[str] = (), rename: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The mapped columns of ``row`` as a dict, in the order the model declares them, without
    ``exclude`` and with a column named ``rename[column]`` where given: the one row-to-dict that
    the views of a table build on (they add or replace their computed keys after it)."""
    names = rename or {}
    return {
        names.get(column.key, column.key): getattr(row, column.key)
        for column in sa_inspect(row).mapper.column_attrs
        if column.key not in exclude
    }


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own handling is lazy).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: the WAL is fsynced at each commit, so an acknowledged write survives a power
        # failure (NORMAL syncs only at checkpoints and may lose the last commits).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get("sqlite_single_read"):
            return  # one SELECT is its own consistent snapshot; no transaction needed
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("sqlite_immediate") else "BEGIN")


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        log.warning(message)


def _run(dbapi_conn: Any, sql: str) -> Any:
    """Run one statement on a raw driver connection; its first row, if it returns rows."""
    cur = dbapi_conn.cursor()
    try:
        cur.execute(sql)
        return cur.fetchone() if cur.description else None
    finally:
        cur.close()


def _postgres_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Read the effective setting rather than always SET it: "remote_apply" or
        # "remote_write" (synchronous standbys) are stronger than "on" and must stay; only
        # "off" acknowledges a commit before its WAL is flushed. Checked per connection, so a
        # database or role default (ALTER ... SET synchronous_commit) is caught as well.
        synchronous_commit, fsync = _run(
            dbapi_conn, "SELECT current_setting('synchronous_commit'), current_setting('fsync')"
        )
        if synchronous_commit == "off":
            _run(dbapi_conn, "SET synchronous_commit TO on")
            _warn_once(
                "PostgreSQL has synchronous_commit=off for this database or role; the service "
                "sets it to on for its own connections so that an acknowledged consent is durable"
            )
        if fsync == "off":
            _warn_once(
                "PostgreSQL runs with fsync=off: commits are not durable on power failure; "
                "turn fsync on in postgresql.conf"
            )
        dbapi_conn.commit()


def _mysql_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # A global setting (SET GLOBAL needs an administrator): the service only reports it.
        (flush,) = _run(dbapi_conn, "SELECT @@GLOBAL.innodb_flush_log_at_trx_commit")
        dbapi_conn.rollback()
        if str(flush) != "1":
            _warn_once(
                f"MariaDB/MySQL has innodb_flush_log_at_trx_commit={flush}: an acknowledged commit "
                "can be lost on power failure; set it to 1 (and sync_binlog=1 where the binary log is on)"
            )


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        secure_sqlite(url)  # database file 0600 before SQLite creates it (its -wal/-shm follow)
        engine = create_engine(url, **kwargs)
        _sqlite_setup(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "postgresql":
        _postgres_setup(engine)
    elif engine.dialect.name in ("mysql", "mariadb"):
        _mysql_setup(engine)
    return engine


class WriterLock:
    """Queue SQLite writers of all processes on a lock file instead of SQLite's busy handler.

    SQLite's busy handler polls with sleeps of up to 100 ms, so writers from several gunicorn
    workers waste most of their time sleeping; an exclusive ``flock`` wakes the next writer the
    moment the previous one commits. The file descriptor is opened per process (a descriptor
    inherited across fork would share the lock), and a thread lock orders threads within one.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._threads = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None
        self._owner: int | None = None

    def acquire(self) -> None:
        if self._owner == threading.get_ident():
            raise RuntimeError("a write unit of work is already open in this thread (nested writes deadlock)")
        self._threads.acquire()
        self._owner = threading.get_ident()
        try:
            if self._pid != os.getpid():
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            assert self._fd is not None
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._owner = None
            self._threads.release()
            raise

    def release(self) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._owner = None
        self._threads.release()


class Database:
    """One engine and its session factories; built by the bootstrap, never at import."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        writer_bind = self.engine.execution_options(sqlite_immediate=True) if self.is_sqlite else self.engine
        self._writer = sessionmaker(writer_bind, expire_on_commit=False)
        self._single_read = (
            self.engine.execution_options(sqlite_single_read=True) if self.is_sqlite else self.engine
        )
        # reads of rows that never change once written: no transaction, no BEGIN/ROLLBACK trips
        self._untransacted = (
            self._single_read
            if self.is_sqlite
            else self.engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        database = self.engine.url.database if self.is_sqlite else None
        self.writer_lock = (
            WriterLock(Path(database + "-writelock")) if database and database != ":memory:" else None
        )

    def immutable_reads(self) -> Connection:
        """A connection whose statements run outside any transaction, each its own snapshot: for
        reads of rows that never change once committed (the Merkle tree's complete tiles and
        signed checkpoints), where the round trips of BEGIN and ROLLBACK would be most of the
        cost. Use it as a context manager."""
        return self._untransacted.connect()

    def fetch_one(self, statement: Any, params: dict[str, Any] | None = None) -> Any:
        """Run one read-only statement and return its first row.

        A single statement sees one consistent snapshot, so on SQLite no transaction is opened
        (no BEGIN/ROLLBACK round trips on the hottest read paths: the gate and the health check).
        """
        with self._single_read.connect() as conn:
            row = conn.execute(statement, params or {}).first()
            if not self.is_sqlite:
                conn.rollback()
            return row

    def uow(self, *, write: bool = True) -> UnitOfWork:
        if write:
            return UnitOfWork(self._writer, self.writer_lock)
        return UnitOfWork(self._reader)

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """One transaction. Commit explicitly; anything else rolls back."""

    session: Session

    def __init__(self, factory: sessionmaker[Session], lock: WriterLock | None = None) -> None:
        self._factory = factory
        self._lock = lock

    def __enter__(self) -> UnitOfWork:
        if self._lock is not None:
            self._lock.acquire()
        self.session = self._factory()
        return self

    def __exit__(self, *exc: object) -> None:
        # close() rolls back anything uncommitted and detaches loaded objects without expiring
        # them, so values read in the unit of work stay readable after it.
        try:
            self.session.close()
        finally:
            if self._lock is not None:
                self._lock.release()

    def commit(self) -> None:
        self.session.commit()

    def flush(self) -> None:
        self.session.flush()
