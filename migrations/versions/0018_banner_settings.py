"""the banner's data: strictly necessary purposes, cookie paths and texts per language, and each
site's banner settings (languages, links, theme, Consent Mode, re-ask periods, text overrides)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 09:30:00.000000

``purposes.strictly_necessary`` is false for every existing purpose: from now on only a purpose
flagged so is always on in a banner, whatever its legal basis (ePrivacy Art. 5(3)).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMN (no table copy on SQLite: the tables other tables point to stay in place)
    op.add_column(
        "purposes", sa.Column("strictly_necessary", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("cookies", sa.Column("path", sa.String(length=255), nullable=False, server_default="/"))
    op.add_column("cookies", sa.Column("descriptions", sa.JSON(), nullable=True))
    op.add_column("sites", sa.Column("banner", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("sites", "banner")
    op.drop_column("cookies", "descriptions")
    op.drop_column("cookies", "path")
    op.drop_column("purposes", "strictly_necessary")
