"""suppressed addresses: hashed e-mail addresses of erased subjects for suppression lists

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 07:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppressed_addresses",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("email_sha256", sa.String(length=64), nullable=False),
        sa.Column("purpose_key", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=12), nullable=False),
        sa.Column("created_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressed_addresses")),
    )
    op.create_index(
        "ix_suppressed_addresses_purpose", "suppressed_addresses", ["purpose_key", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_suppressed_addresses_purpose", table_name="suppressed_addresses")
    op.drop_table("suppressed_addresses")
