"""why a data subject request failed

A request whose run failed keeps a reason the DPO can read (``failure_reason``: no stack trace,
no personal data); it is cleared when the request runs again.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 22:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dsar_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsar_requests", schema=None) as batch_op:
        batch_op.drop_column("failure_reason")
