"""the last connection test of each store

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 06:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_checks",
        sa.Column("store_key", sa.String(length=64), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("checked_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("checked_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["store_key"], ["data_stores.key"], name=op.f("fk_store_checks_store_key_data_stores")
        ),
        sa.PrimaryKeyConstraint("store_key", name=op.f("pk_store_checks")),
    )


def downgrade() -> None:
    op.drop_table("store_checks")
