"""SQL stores through SQLAlchemy Core: any URL SQLAlchemy can open (PostgreSQL, MariaDB, SQLite, ...).

Tables are reflected once per connector, so values are bound with the column's real type:
``find`` reads every column of the rows (an access copy holds all of them, see
``dsar.package``), writes and sweeps touch only the declared columns. Each ``erase``/``rectify`` call is one transaction that re-reads
the rows by primary key before writing, which makes both idempotent.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    MetaData,
    Table,
    and_,
    create_engine,
    delete,
    false,
    func,
    inspect,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import sqltypes

from consent_service.stores.connectors.base import (
    HASH_PREFIX,
    Batch,
    Check,
    Connector,
    ConnectorError,
    Due,
    EraseResult,
    MissingField,
    Row,
    deletes_row,
    field_changes,
    keyed_hash,
    rectified,
    short_error,
)
from consent_service.stores.spec import CollectionSpec, StoreSpec

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
    def _table(
        self, conn: Connection, coll: CollectionSpec, extra: Sequence[str] = (), *, every: bool = False
    ) -> Table:
        """The table with the declared columns (and ``extra``), or with ``every`` column it has."""
        schema, name = _table_name(coll)
        columns = list(dict.fromkeys([*coll.columns, *extra]))
        cache_key = (self.url, schema, name, ("*",) if every else tuple(sorted(columns)))
        table = _tables.get(cache_key)
        if table is None:
            try:
                table = Table(
                    name,
                    MetaData(),
                    schema=schema,
                    autoload_with=conn,
                    include_columns=None if every else columns,
                    resolve_fks=False,
                )
            except NoSuchTableError:
                raise ConnectorError(f"store {self.spec.key!r}: no table {coll.table or coll.name}") from None
            missing = set(columns) - set(table.c.keys())
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
            # every column: an access copy holds all of a person's row, declared or not
            table = self._table(conn, coll, every=True)
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

    # retention sweeps ---------------------------------------------------------------------
    def _due_where(self, conn: Connection, coll: CollectionSpec, table: Table, due: Due) -> Any:
        """SQL for "due and not yet carrying its actions" (see ``Due``)."""
        column = table.c[due.field]
        clauses: list[Any] = [column.is_not(None), column <= _bound_time(conn, column, due.cutoff)]
        if not deletes_row(due.actions):
            pending: list[Any] = []
            for name, action in due.actions.items():
                target = table.c[name]
                if action == "nullify":
                    pending.append(target.is_not(None))
                elif action == "mask":
                    mask = coll.fields[name].mask if name in coll.fields else "[erased]"
                    pending.append(or_(target.is_(None), target != mask))
                elif action == "hash":
                    pending.append(and_(target.is_not(None), not_(target.startswith(HASH_PREFIX))))
            clauses.append(or_(*pending) if pending else false())
        return and_(*clauses)

    def _sweep_table(self, conn: Connection, coll: CollectionSpec, due: Due) -> Table:
        try:
            return self._table(conn, coll, (due.field,))
        except ConnectorError as exc:
            raise MissingField(str(exc)) from None

    def due_count(self, collection: str, due: Due, exclude: Sequence[Any] = ()) -> tuple[int, int]:
        coll = self.collection(collection)
        assert coll.primary_key is not None
        with self.engine.connect() as conn:
            table = self._sweep_table(conn, coll, due)
            where = self._due_where(conn, coll, table, due)
            total = int(conn.execute(select(func.count()).select_from(table).where(where)).scalar() or 0)
            held = 0
            if exclude:
                pk = table.c[coll.primary_key]
                held = int(
                    conn.execute(
                        select(func.count()).select_from(table).where(where, pk.in_(list(exclude)))
                    ).scalar()
                    or 0
                )
            return total - held, held

    def due_rows(
        self, collection: str, due: Due, *, limit: int, exclude: Sequence[Any] = (), cursor: Any = None
    ) -> tuple[list[Row], Any, bool]:
        coll = self.collection(collection)
        assert coll.primary_key is not None
        with self.engine.connect() as conn:
            table = self._sweep_table(conn, coll, due)
            pk = table.c[coll.primary_key]
            query = select(table).where(self._due_where(conn, coll, table, due))
            if exclude:
                query = query.where(pk.not_in(list(exclude)))
            if cursor is not None:
                query = query.where(pk > cursor)
            rows = [dict(r._mapping) for r in conn.execute(query.order_by(pk).limit(limit))]
        next_cursor = rows[-1][coll.primary_key] if rows else cursor
        return rows, next_cursor, len(rows) < limit

    def sweep_batch(
        self, collection: str, due: Due, *, limit: int, exclude: Sequence[Any] = (), cursor: Any = None
    ) -> Batch:
        """One transaction over the next ``limit`` due rows after ``cursor`` in key order (rows
        other transactions hold are skipped, the next run takes them): delete them or set their
        fields, checking the condition again in the writing statement.

        Walking forward by primary key keeps every batch to one stretch of the key index, so no
        batch, the last one included, scans the whole table. On PostgreSQL a delete or a
        constant update is one statement (``… WHERE pk IN (SELECT … FOR UPDATE SKIP LOCKED)
        RETURNING pk``); elsewhere the keys are locked first, then written.
        """
        coll = self.collection(collection)
        assert coll.primary_key is not None
        with self.engine.begin() as conn:
            table = self._sweep_table(conn, coll, due)
            pk = table.c[coll.primary_key]
            where = self._due_where(conn, coll, table, due)
            chosen = select(pk).where(where)
            if cursor is not None:
                chosen = chosen.where(pk > cursor)
            if exclude:
                chosen = chosen.where(pk.not_in(list(exclude)))
            chosen = chosen.order_by(pk).limit(limit)
            if conn.dialect.name != "sqlite":
                chosen = chosen.with_for_update(skip_locked=True)
            constant = {
                name: (
                    None
                    if action == "nullify"
                    else coll.fields[name].mask
                    if name in coll.fields
                    else "[erased]"
                )
                for name, action in due.actions.items()
                if action in ("nullify", "mask")
            }
            hashed = [name for name, action in due.actions.items() if action == "hash"]
            deleting = deletes_row(due.actions)
            if conn.dialect.name == "postgresql" and (deleting or not hashed):
                target = pk.in_(chosen.scalar_subquery())
                statement = (
                    delete(table).where(target, where)
                    if deleting
                    else update(table).where(target, where).values(constant)
                )
                keys = list(conn.execute(statement.returning(pk)).scalars())
                changed = len(keys)
                return Batch(
                    candidates=changed,
                    deleted=changed if deleting else 0,
                    updated=0 if deleting else changed,
                    cursor=max(keys) if keys else cursor,
                    done=changed < limit,
                )
            keys = list(conn.execute(chosen).scalars())
            if not keys:
                return Batch(cursor=cursor)
            after = Batch(candidates=len(keys), cursor=max(keys), done=len(keys) < limit)
            if deleting:
                result = conn.execute(delete(table).where(pk.in_(keys), where))
                return replace(after, deleted=result.rowcount)
            updated = 0
            if hashed:
                current = conn.execute(select(pk, *[table.c[n] for n in hashed]).where(pk.in_(keys), where))
                for row in current:
                    values = dict(constant)
                    for name in hashed:
                        value = row._mapping[name]
                        if value is not None and not str(value).startswith(HASH_PREFIX):
                            values[name] = keyed_hash(self.hash_key, value)
                    if values:
                        conn.execute(update(table).where(pk == row[0]).values(values))
                        updated += 1
            elif constant:
                updated = conn.execute(update(table).where(pk.in_(keys), where).values(constant)).rowcount
            return replace(after, updated=updated)


def _bound_time(conn: Connection, column: Any, cutoff: dt.datetime) -> Any:
    """The cutoff as the column compares it: a date for DATE columns; naive UTC unless the column
    keeps time zones (PostgreSQL timestamptz); text columns compare ISO strings."""
    kind = column.type
    utc = cutoff.astimezone(dt.UTC)
    if isinstance(kind, sqltypes.Date) and not isinstance(kind, sqltypes.DateTime):
        return utc.date()
    if isinstance(kind, sqltypes.DateTime):
        return utc if kind.timezone and conn.dialect.name == "postgresql" else utc.replace(tzinfo=None)
    if isinstance(kind, sqltypes.String):
        return utc.replace(tzinfo=None).isoformat(sep=" ")
    return utc.replace(tzinfo=None)
