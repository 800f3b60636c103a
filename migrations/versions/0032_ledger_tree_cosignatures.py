"""witnesses' cosignatures on the Merkle tree's checkpoints (c2sp.org/tlog-cosignature), and how
far each witness of CONSENT_LOG_WITNESSES has cosigned

Both tables start empty: the ledger thread asks the configured witnesses to cosign the latest
checkpoint (``ledger.cosigning``) and stores each cosignature once it verified.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 23:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from consent_service.db import UTCDateTime

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_tree_cosignatures",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("witness", sa.String(length=200), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("timestamp", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("size", "witness", name=op.f("pk_ledger_tree_cosignatures")),
    )
    op.create_table(
        "ledger_tree_witnesses",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ledger_tree_witnesses")),
    )


def downgrade() -> None:
    op.drop_table("ledger_tree_witnesses")
    op.drop_table("ledger_tree_cosignatures")
