"""double opt-in: purposes may ask for confirmation; confirmation links

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 07:15:00.000000

``purposes.confirmation`` is added in place (NULL: a grant is effective at once, as before).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("purposes", sa.Column("confirmation", sa.String(length=32), nullable=True))
    op.create_table(
        "optin_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("pending_event_id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("purpose_key", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("address_ct", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("confirmed_event_id", sa.String(length=36), nullable=True),
        sa.Column("resend_count", sa.Integer(), nullable=False),
        sa.Column("resent_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_optin_links_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_optin_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_optin_links_token_hash")),
    )
    op.create_index(op.f("ix_optin_links_created_at"), "optin_links", ["created_at"], unique=False)
    op.create_index(
        op.f("ix_optin_links_pending_event_id"), "optin_links", ["pending_event_id"], unique=False
    )
    op.create_index(op.f("ix_optin_links_subject_id"), "optin_links", ["subject_id"], unique=False)


def downgrade() -> None:
    op.drop_table("optin_links")
    with op.batch_alter_table("purposes") as batch:
        batch.drop_column("confirmation")
