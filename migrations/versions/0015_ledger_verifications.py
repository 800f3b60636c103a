"""whole-ledger verifications with their progress and result

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 06:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_verifications",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("started_by", sa.String(length=254), nullable=False),
        sa.Column("started_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("checked", sa.BigInteger(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("first_bad_seq", sa.BigInteger(), nullable=True),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_verifications")),
    )
    with op.batch_alter_table("ledger_verifications", schema=None) as batch_op:
        batch_op.create_index("ix_ledger_verifications_state", ["state", "started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger_verifications", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_verifications_state")
    op.drop_table("ledger_verifications")
