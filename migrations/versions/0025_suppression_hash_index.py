"""suppression lists without repeats: an index on the hash, read in hash order once each

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 13:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_suppressed_addresses_hash", "suppressed_addresses", ["email_sha256", "purpose_key"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_suppressed_addresses_hash", table_name="suppressed_addresses")
