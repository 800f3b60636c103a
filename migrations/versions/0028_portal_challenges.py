"""portal challenges: each proof of work the privacy portal accepted, so a solution is used once

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 20:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "portal_challenges",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_portal_challenges")),
    )
    op.create_index(op.f("ix_portal_challenges_expires_at"), "portal_challenges", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_portal_challenges_expires_at"), table_name="portal_challenges")
    op.drop_table("portal_challenges")
