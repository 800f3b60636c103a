"""the ledger's Merkle tree (RFC 9162): tiles of stored hashes, how many events are its leaves,
and its signed checkpoints (C2SP tlog-checkpoint in a signed note)

The tree starts empty (``ledger_tree_state.size`` 0): the events already in the ledger become
its first leaves, in seq order, as the service's ledger thread extends it (``ledger.tree``), a
run of events at a time. The checkpoints of the hash chain issued before stay as they are and
verify as before (``ledger verify --checkpoints``).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 16:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from consent_service.db import UTCDateTime

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_tree_tiles",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_ledger_tree_tiles")),
    )
    state = op.create_table(
        "ledger_tree_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_tree_state")),
    )
    op.bulk_insert(state, [{"id": 1, "size": 0}])
    op.create_table(
        "ledger_tree_checkpoints",
        sa.Column("size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("size", name=op.f("pk_ledger_tree_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("ledger_tree_checkpoints")
    op.drop_table("ledger_tree_state")
    op.drop_table("ledger_tree_tiles")
