"""manual tasks, Art. 19 recipients, callback records of store runs

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dsar_tasks",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("request_id", sa.String(length=40), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("due_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("done_by", sa.String(length=64), nullable=True),
        sa.Column("done_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"], ["dsar_requests.id"], name=op.f("fk_dsar_tasks_request_id_dsar_requests")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dsar_tasks")),
    )
    with op.batch_alter_table("dsar_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_dsar_tasks_request_state", ["request_id", "state"], unique=False)
    op.create_table(
        "dsar_recipients",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("endpoint", sa.String(length=500), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret_box", sa.LargeBinary(), nullable=False),
        sa.Column("secret_kek", sa.Integer(), nullable=False),
        sa.Column("created_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_dsar_recipients")),
    )
    with op.batch_alter_table("dsar_store_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("records_ct", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("dsar_store_runs", schema=None) as batch_op:
        batch_op.drop_column("records_ct")
    op.drop_table("dsar_recipients")
    with op.batch_alter_table("dsar_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_dsar_tasks_request_state")
    op.drop_table("dsar_tasks")
