"""SQL stores through SQLAlchemy Core: any URL SQLAlchemy can open (PostgreSQL, MariaDB, SQLite, ...).

Tables are reflected once per connector, limited to the declared columns, so values are bound
with the column's real type. Each ``erase``/``rectify`` call is one transaction that re-reads
the rows by primary key before writing, which makes both idempotent.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, delete, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from consent_service.dsar.connectors.base import (
    Check,
    Connector,
    ConnectorError,
    EraseResult,
    Row,
    deletes_row,
    field_changes,
    rectified,
    short_error,
)
from consent_service.dsar.spec import CollectionSpec, StoreSpec

CONNECT_TIMEOUT_S = 5


def make_store_engine(url: str, *, pooled: bool = False) -> Engine:
    """An engine with a connect timeout; pooled ones keep two connections for repeated runs."""
    backend = make_url(url).get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    if pooled and backend != "sqlite":
        return create_engine(url, pool_size=2, max_overflow=2, pool_pre_ping=True, connect_args=connect_args)
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


# Connectors live for one run, but a worker runs many requests against the same stores: engines
# (with their connection pools) and table definitions are kept per process, a few stores at most.
MAX_CACHED_STORES = 8
_engines: OrderedDict[str, Engine] = OrderedDict()
_tables: dict[tuple[str, str | None, str, tuple[str, ...]], Table] = {}
_cache_lock = threading.Lock()


def shared_engine(url: str) -> Engine:
    with _cache_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_store_engine(url, pooled=True)
            while len(_engines) > MAX_CACHED_STORES:
                old_url, old = _engines.popitem(last=False)
                old.dispose()
                for key in [k for k in _tables if k[0] == old_url]:
                    del _tables[key]
        _engines.move_to_end(url)
        return engine


def _table_name(coll: CollectionSpec) -> tuple[str | None, str]:
    schema, _, name = (coll.table or coll.name).rpartition(".")
    return schema or None, name


class SqlConnector(Connector):
    def __init__(self, spec: StoreSpec, url: str, hash_key: bytes) -> None:
        self.spec = spec
        self.hash_key = hash_key
        self.url = url
        self.engine = shared_engine(url)

    def close(self) -> None:
        """Nothing to release: the engine and its pool are shared by later runs."""

    # checks ---------------------------------------------------------------------------
    def check(self) -> list[Check]:
        try:
            with self.engine.connect() as conn:
                return [c for coll in self.spec.collections.values() for c in self._check(conn, coll)]
        except SQLAlchemyError as exc:
            return [
                Check("*", False, problem=f"cannot connect: {short_error(getattr(exc, 'orig', None) or exc)}")
            ]

    def _check(self, conn: Connection, coll: CollectionSpec) -> list[Check]:
        schema, name = _table_name(coll)
        inspector = inspect(conn)
        if not inspector.has_table(name, schema=schema):
            return [Check(coll.name, False, problem=f"no table {coll.table or coll.name}")]
        present = {c["name"] for c in inspector.get_columns(name, schema=schema)}
        checks = [Check(coll.name, True)]
        for column in coll.columns:
            ok = column in present
            checks.append(Check(coll.name, ok, column, None if ok else f"no column {column}"))
        return checks

    # reads and writes -----------------------------------------------------------------
    def _table(self, conn: Connection, coll: CollectionSpec) -> Table:
        schema, name = _table_name(coll)
        cache_key = (self.url, schema, name, tuple(sorted(coll.columns)))
        table = _tables.get(cache_key)
        if table is None:
            try:
                table = Table(
                    name,
                    MetaData(),
                    schema=schema,
                    autoload_with=conn,
                    include_columns=coll.columns,
                    resolve_fks=False,
                )
            except NoSuchTableError:
                raise ConnectorError(f"store {self.spec.key!r}: no table {coll.table or coll.name}") from None
            missing = set(coll.columns) - set(table.c.keys())
            if missing:
                raise ConnectorError(f"store {self.spec.key!r}: {name} lacks {', '.join(sorted(missing))}")
            _tables[cache_key] = table
        return table

    def table_for(self, collection: str) -> Table:
        """The table behind a declared collection, with its declared columns."""
        with self.engine.connect() as conn:
            return self._table(conn, self.collection(collection))

    def find(self, collection: str, field: str, values: Sequence[Any]) -> list[Row]:
        coll = self.collection(collection)
        if field not in coll.columns:
            raise ConnectorError(f"{collection}.{field} is not declared")
        if not values:
            return []
        with self.engine.connect() as conn:
            table = self._table(conn, coll)
            result = conn.execute(select(table).where(table.c[field].in_(list(values))))
            return [dict(row._mapping) for row in result]

    def _current(
        self, conn: Connection, coll: CollectionSpec, table: Table, rows: Sequence[Row]
    ) -> list[Row]:
        assert coll.primary_key is not None
        keys = [row[coll.primary_key] for row in rows]
        if not keys:
            return []
        query = select(table).where(table.c[coll.primary_key].in_(keys))
        if conn.dialect.name != "sqlite":
            query = query.with_for_update()
        return [dict(row._mapping) for row in conn.execute(query)]

    def erase(self, collection: str, rows: Sequence[Row], actions: Mapping[str, str]) -> EraseResult:
        coll = self.collection(collection)
        pk = coll.primary_key
        assert pk is not None
        with self.engine.begin() as conn:
            table = self._table(conn, coll)
            current = self._current(conn, coll, table, rows)
            if deletes_row(actions):
                if not current:
                    return EraseResult()
                done = conn.execute(delete(table).where(table.c[pk].in_([r[pk] for r in current])))
                return EraseResult(deleted=done.rowcount)
            updated = 0
            for row in current:
                changes = field_changes(coll, row, actions, self.hash_key)
                if changes:
                    conn.execute(update(table).where(table.c[pk] == row[pk]).values(changes))
                    updated += 1
            return EraseResult(updated=updated)

    def rectify(self, collection: str, rows: Sequence[Row], changes: Mapping[str, Any]) -> int:
        coll = self.collection(collection)
        pk = coll.primary_key
        assert pk is not None
        unknown = set(changes) - set(coll.columns)
        if unknown:
            raise ConnectorError(f"cannot rectify undeclared fields: {', '.join(sorted(unknown))}")
        with self.engine.begin() as conn:
            table = self._table(conn, coll)
            count = 0
            for row in self._current(conn, coll, table, rows):
                diff = rectified(row, changes)
                if diff:
                    conn.execute(update(table).where(table.c[pk] == row[pk]).values(diff))
                    count += 1
            return count
