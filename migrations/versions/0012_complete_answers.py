"""complete answers: automated decisions of purposes, where recipients are

``purpose_versions.automated_decisions`` (Art. 15(1)(h)) is NULL for "none", so the versions
already stored keep their meaning and their content hash. ``dsar_recipients.country`` and
``safeguard`` (Art. 15(2)) stay NULL for recipients registered before: "country not recorded".

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("purpose_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("automated_decisions", sa.JSON(), nullable=True))
    with op.batch_alter_table("dsar_recipients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("country", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("safeguard", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsar_recipients", schema=None) as batch_op:
        batch_op.drop_column("safeguard")
        batch_op.drop_column("country")
    with op.batch_alter_table("purpose_versions", schema=None) as batch_op:
        batch_op.drop_column("automated_decisions")
