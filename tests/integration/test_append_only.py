"""The database itself refuses to change or remove ledger events and checkpoints.

Raw SQL, no service code: UPDATE and DELETE (and TRUNCATE on PostgreSQL) on ``ledger_events`` and
``ledger_checkpoints`` fail in the database's own triggers, and the rows stay exactly as they were.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text
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
