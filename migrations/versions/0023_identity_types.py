"""identity types: the operator's own kinds of identity beside the built-in ones, and room for
their keys in identities.type

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 07:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "identity_types",
        sa.Column("key", sa.String(length=40), primary_key=True),
        sa.Column("case", sa.String(length=8), nullable=False),
        sa.Column("trim", sa.Boolean(), nullable=False),
        sa.Column("pattern", sa.String(length=400), nullable=True),
        sa.Column("dsar_allowed", sa.Boolean(), nullable=False),
        sa.Column("created_at", consent_service.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", consent_service.db.UTCDateTime(), nullable=False),
    )
    with op.batch_alter_table("identities") as batch:
        batch.alter_column("type", existing_type=sa.String(length=16), type_=sa.String(length=40))


def downgrade() -> None:
    with op.batch_alter_table("identities") as batch:
        batch.alter_column("type", existing_type=sa.String(length=40), type_=sa.String(length=16))
    op.drop_table("identity_types")
