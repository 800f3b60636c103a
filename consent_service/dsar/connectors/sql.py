"""SQL stores through SQLAlchemy Core: any URL SQLAlchemy can open (PostgreSQL, MariaDB, SQLite, ...).

Tables are reflected once per connector, limited to the declared columns, so values are bound
with the column's real type. Each ``erase``/``rectify`` call is one transaction that re-reads
the rows by primary key before writing, which makes both idempotent.
"""

from __future__ import annotations

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


def make_store_engine(url: str) -> Engine:
    """An engine without a pool (connectors are short-lived) and with a connect timeout."""
    backend = make_url(url).get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


def _table_name(coll: CollectionSpec) -> tuple[str | None, str]:
    schema, _, name = (coll.table or coll.name).rpartition(".")
    return schema or None, name


class SqlConnector(Connector):
    def __init__(self, spec: StoreSpec, url: str, hash_key: bytes) -> None:
        self.spec = spec
        self.hash_key = hash_key
        self.engine = make_store_engine(url)
        self._tables: dict[str, Table] = {}

    def close(self) -> None:
        self.engine.dispose()

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
        table = self._tables.get(coll.name)
        if table is None:
            schema, name = _table_name(coll)
            try:
                table = Table(
                    name, MetaData(), schema=schema, autoload_with=conn, include_columns=coll.columns
                )
            except NoSuchTableError:
                raise ConnectorError(f"store {self.spec.key!r}: no table {coll.table or coll.name}") from None
            missing = set(coll.columns) - set(table.c.keys())
            if missing:
                raise ConnectorError(f"store {self.spec.key!r}: {name} lacks {', '.join(sorted(missing))}")
            self._tables[coll.name] = table
        return table

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
