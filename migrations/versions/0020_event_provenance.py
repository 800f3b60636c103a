"""event provenance: where an imported event came from and when it was made there, and the event
another one follows from (a double opt-in confirmation and its pending grant)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 19:10:00.000000

The columns are added in place (no table copy): on SQLite a copy would drop the triggers that
keep ``ledger_events`` append-only. Every existing event has them NULL, and a NULL column is
left out of the event's hash, so no stored hash changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "ledger_events",
        sa.Column("recorded_at_source", consent_service.db.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("ledger_events", sa.Column("source", sa.String(length=64), nullable=True))
    op.add_column("ledger_events", sa.Column("related_event_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    for column in ("related_event_id", "source", "recorded_at_source"):
        op.drop_column("ledger_events", column)
