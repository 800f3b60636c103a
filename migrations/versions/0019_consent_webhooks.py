"""consent webhooks: a delivery cursor per recipient following consent changes, and the index
the change feed's purpose filter reads

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 15:30:00.000000

A recipient already registered follows no consent changes, so no cursor is created here.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consent_cursors",
        sa.Column("recipient_key", sa.String(length=64), nullable=False),
        sa.Column("after_seq", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recipient_key"],
            ["dsar_recipients.key"],
            name=op.f("fk_consent_cursors_recipient_key_dsar_recipients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("recipient_key", name=op.f("pk_consent_cursors")),
    )
    op.create_index("ix_ledger_events_target_seq", "ledger_events", ["target_key", "seq"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_ledger_events_target_seq", table_name="ledger_events")
    op.drop_table("consent_cursors")
