"""ledger guards: REPLACE refused on every unique key, witness delivery state

SQLite's ``INSERT OR REPLACE`` deletes whichever stored row conflicts with the new one on *any*
unique key, without firing DELETE triggers. The ``*_no_replace`` triggers of 0001/0002 only
looked at ``seq`` (``log, seq`` for audit entries), so a REPLACE that collided on ``id`` or on
the hidden ``rowid`` removed an event silently. They now check every unique key of each
append-only table. PostgreSQL has no REPLACE: ``INSERT ... ON CONFLICT DO UPDATE`` and ``MERGE``
fire the row triggers of 0001/0002 on every key, so nothing changes there.

``ledger_witnesses`` remembers, per witness URL, the last signed checkpoint it accepted.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 12:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# Every unique key of the append-only tables; SQLite's rowid is one too (a table without
# INTEGER PRIMARY KEY keeps a hidden one that REPLACE honours when a statement names it).
UNIQUE_KEYS = {
    "ledger_events": (("rowid",), ("seq",), ("id",)),
    "ledger_checkpoints": (("rowid",), ("seq",)),
    "audit_entries": (("rowid",), ("log", "seq")),
}
OLD_KEYS = {"ledger_events": ("seq",), "ledger_checkpoints": ("seq",), "audit_entries": ("log", "seq")}


def _replace_trigger(table: str, keys: tuple[tuple[str, ...], ...]) -> str:
    # One EXISTS per key, so that each probe uses its own index. NEW.rowid is -1 in a BEFORE
    # INSERT trigger when the statement does not name the rowid, and no row has rowid -1.
    when = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE " + " AND ".join(f"{c} = NEW.{c}" for c in key) + ")"
        for key in keys
    )
    return (
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} WHEN {when} "
        f"BEGIN SELECT RAISE(ABORT, 'table {table} is append-only: REPLACE refused'); END"
    )


def upgrade() -> None:
    op.create_table(
        "ledger_witnesses",
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("delivered_seq", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("url", name=op.f("pk_ledger_witnesses")),
    )
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for table, keys in UNIQUE_KEYS.items():
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_replace")
            conn.exec_driver_sql(_replace_trigger(table, keys))


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        for table, key in OLD_KEYS.items():
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_replace")
            conn.exec_driver_sql(_replace_trigger(table, (key,)))
    op.drop_table("ledger_witnesses")
