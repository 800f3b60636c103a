"""The database itself refuses to change or remove ledger events and checkpoints.

Raw SQL, no service code: UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ``ledger_events`` and
``ledger_checkpoints`` fail in the database's own triggers, and the rows stay exactly as they were.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger.audit import latest_checkpoint, verify
from tests.integration.helpers import consent, email, events_of, is_sqlite, raw

REFUSED = "append-only"


def record_some(ctx: Context) -> Context:
    seed(ctx)
    consent(ctx, identity=email("ann"), decisions=[("purpose", "analytics", True), ("cookie", "_ga", True)])
    consent(ctx, identity=email("ben"), decisions=[("purpose", "newsletter", False)])
    latest_checkpoint(ctx)
    return ctx


@pytest.fixture
def recorded(any_ctx: Context) -> Context:
    return record_some(any_ctx)


@pytest.fixture
def pg_recorded(pg_ctx: Context) -> Context:
    return record_some(pg_ctx)


def table_rows(ctx: Context, table: str) -> list[tuple[object, ...]]:
    with ctx.db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY seq"))]


STATEMENTS = {
    "ledger_events": [
        "UPDATE ledger_events SET decision = 'granted' WHERE seq = 3",
        "UPDATE ledger_events SET seq = seq + 100",
        "DELETE FROM ledger_events WHERE seq = 3",
        "DELETE FROM ledger_events",
    ],
    "ledger_checkpoints": [
        "UPDATE ledger_checkpoints SET head_hash = 'forged'",
        "DELETE FROM ledger_checkpoints",
    ],
}


@pytest.mark.parametrize("table", sorted(STATEMENTS))
def test_update_and_delete_are_refused_by_the_database(recorded: Context, table: str) -> None:
    before = table_rows(recorded, table)
    assert before, f"{table} must hold rows for this test to mean anything"
    for sql in STATEMENTS[table]:
        with pytest.raises(DBAPIError, match=REFUSED), raw(recorded) as conn:
            conn.execute(text(sql))
    assert table_rows(recorded, table) == before
    assert verify(recorded).ok


@pytest.mark.postgres
@pytest.mark.parametrize("table", sorted(STATEMENTS))
def test_truncate_is_refused_on_postgres(pg_recorded: Context, table: str) -> None:
    recorded = pg_recorded
    before = table_rows(recorded, table)
    with pytest.raises(DBAPIError, match=REFUSED), raw(recorded) as conn:
        conn.execute(text(f"TRUNCATE {table}"))
    with pytest.raises(DBAPIError, match=REFUSED), raw(recorded) as conn:
        conn.execute(text(f"TRUNCATE {table} CASCADE"))
    assert table_rows(recorded, table) == before


@pytest.mark.parametrize("table", sorted(STATEMENTS))
def test_an_upsert_that_would_overwrite_a_row_is_refused(recorded: Context, table: str) -> None:
    """Overwriting a row by INSERT ... ON CONFLICT / INSERT OR REPLACE is an update too.

    SQLite's REPLACE deletes the conflicting row without firing DELETE triggers (unless
    recursive_triggers is on), so BEFORE UPDATE/DELETE triggers alone do not guard it.
    """
    before = table_rows(recorded, table)
    with raw(recorded) as conn:
        row = dict(conn.execute(text(f"SELECT * FROM {table} ORDER BY seq LIMIT 1")).mappings().one())
    column = "decision" if table == "ledger_events" else "head_hash"
    row[column] = "forged"
    cols = ", ".join(row)
    values = ", ".join(f":{c}" for c in row)
    if is_sqlite(recorded):
        sql = f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({values})"
    else:
        sql = (
            f"INSERT INTO {table} ({cols}) VALUES ({values}) "
            f"ON CONFLICT (seq) DO UPDATE SET {column} = EXCLUDED.{column}"
        )
    with pytest.raises(DBAPIError, match=REFUSED), raw(recorded) as conn:
        conn.execute(text(sql), row)
    assert table_rows(recorded, table) == before


def test_appending_still_works_after_refused_changes(recorded: Context) -> None:
    with pytest.raises(DBAPIError, match=REFUSED), raw(recorded) as conn:
        conn.execute(text("DELETE FROM ledger_events"))
    consent(recorded, identity=email("cid"), decisions=[("purpose", "ads", True)])
    assert [e["seq"] for e in events_of(recorded)] == [1, 2, 3, 4]
    assert verify(recorded).ok


# Every unique key of every append-only table ----------------------------------------------------

APPEND_ONLY_TABLES = ("ledger_events", "ledger_checkpoints", "audit_entries")


def unique_keys(ctx: Context, table: str) -> list[tuple[str, ...]]:
    """The table's unique keys read from the database catalog (SQLite's hidden rowid included)."""
    with ctx.db.engine.connect() as conn:
        if is_sqlite(ctx):
            keys: list[tuple[str, ...]] = [("rowid",)]
            for index in conn.execute(text(f"PRAGMA index_list({table})")).mappings():
                if index["unique"]:
                    cols = conn.execute(text(f"PRAGMA index_info({index['name']})")).mappings()
                    keys.append(tuple(c["name"] for c in cols))
            return keys
        rows = conn.execute(
            text(
                "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i "
                "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
                "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                "WHERE i.indrelid = CAST(:t AS regclass) AND i.indisunique GROUP BY i.indexrelid"
            ),
            {"t": table},
        )
        return [tuple(r[0]) for r in rows]


def record_with_vault_log(ctx: Context) -> Context:
    from consent_service.auditlog import service as auditlog

    record_some(ctx)
    with ctx.uow() as uow:  # the vault access log is the audit log named "vault"
        auditlog.append(
            uow.session, "vault", actor="cli_test", action="decrypt", details={"field": "f"}, now=ctx.now()
        )
        uow.commit()
    return ctx


def conflicting_row(conn: Connection, table: str, key: tuple[str, ...]) -> dict[str, Any]:
    """A row that collides with the first stored row on ``key`` only (fresh values elsewhere)."""
    sqlite = conn.dialect.name == "sqlite"
    select_cols = "rowid AS rowid, *" if sqlite else "*"
    row = dict(conn.execute(text(f"SELECT {select_cols} FROM {table} ORDER BY seq LIMIT 1")).mappings().one())
    if "rowid" not in key:
        row.pop("rowid", None)
    if "seq" not in key:
        row["seq"] = 10_000
    if "id" in row and "id" not in key:
        row["id"] = str(uuid.uuid4())
    if "log" in row and "log" not in key:
        row["log"] = "forged"
    column = "decision" if table == "ledger_events" else "head_hash" if "head_hash" in row else "action"
    row[column] = "forged"
    return row


@pytest.fixture
def with_vault_log(any_ctx: Context) -> Context:
    return record_with_vault_log(any_ctx)


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_replacing_a_row_on_any_unique_key_is_refused(with_vault_log: Context, table: str) -> None:
    """INSERT OR REPLACE (SQLite) / ON CONFLICT DO UPDATE (PostgreSQL) on each unique key in turn.

    On SQLite a REPLACE that conflicts on ``id`` or on the hidden ``rowid`` (not on ``seq``)
    used to delete the stored row silently.
    """
    ctx = with_vault_log
    keys = unique_keys(ctx, table)
    assert len(keys) >= (2 if is_sqlite(ctx) else 1), keys
    before = table_rows(ctx, table)
    for key in keys:
        with raw(ctx) as conn:
            row = conflicting_row(conn, table, key)
        cols = ", ".join(row)
        values = ", ".join(f":{c}" for c in row)
        if is_sqlite(ctx):
            sql = f"INSERT OR REPLACE INTO {table} ({cols}) VALUES ({values})"
        else:
            assign = ", ".join(f"{c} = EXCLUDED.{c}" for c in row if c not in key)
            sql = f"INSERT INTO {table} ({cols}) VALUES ({values}) ON CONFLICT ({', '.join(key)}) DO UPDATE SET {assign}"
        params = {c: (json.dumps(v) if isinstance(v, dict) else v) for c, v in row.items()}
        with pytest.raises(DBAPIError, match=REFUSED), raw(ctx) as conn:
            conn.execute(text(sql), params)
        assert table_rows(ctx, table) == before, f"{table}: replacing on {key} changed the table"
    assert verify(ctx).ok


@pytest.mark.postgres
@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_merge_is_refused_on_postgres(pg_ctx: Context, table: str) -> None:
    ctx = record_with_vault_log(pg_ctx)
    before = table_rows(ctx, table)
    with pytest.raises(DBAPIError, match=REFUSED), raw(ctx) as conn:
        conn.execute(
            text(
                f"MERGE INTO {table} t USING (SELECT seq FROM {table} ORDER BY seq LIMIT 1) s "
                "ON t.seq = s.seq WHEN MATCHED THEN DELETE"
            )
        )
    assert table_rows(ctx, table) == before
