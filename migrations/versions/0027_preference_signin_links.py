"""preference centre: sign-in links, so that each works once

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 20:00:00.000000

A new table only; sign-in links sent before the upgrade carry no nonce and open nothing after
it (they were valid for an hour at most): the person asks for a new one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "preference_signin_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("created_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_preference_signin_links_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_signin_links")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_preference_signin_links_token_hash")),
    )
    op.create_index(
        op.f("ix_preference_signin_links_expires_at"), "preference_signin_links", ["expires_at"], unique=False
    )
    op.create_index(
        op.f("ix_preference_signin_links_subject_id"), "preference_signin_links", ["subject_id"], unique=False
    )


def downgrade() -> None:
    op.drop_table("preference_signin_links")
