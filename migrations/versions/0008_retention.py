"""retention rules, legal holds, sweeper runs, proof keys

Versioned retention rules, legal holds, one row per sweep, a key per ledger event's proof
(destroyed when the proof's retention ends), and requests whose requester contact data can be
purged (``identities_ct`` becomes nullable).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 22:06:56.238680
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retention_rules",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("current_hash", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_retention_rules")),
    )
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("store", sa.String(length=64), nullable=True),
        sa.Column("started_by", sa.String(length=64), nullable=False),
        sa.Column("started_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("audit_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.create_index("ix_retention_runs_state", ["state", "started_at"], unique=False)

    op.create_table(
        "legal_holds",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=True),
        sa.Column("store", sa.String(length=64), nullable=True),
        sa.Column("collection", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("ends_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("updated_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("released_by", sa.String(length=64), nullable=True),
        sa.Column("release_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_legal_holds_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_legal_holds")),
    )
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.create_index("ix_legal_holds_subject", ["subject_id"], unique=False)

    op.create_table(
        "proof_keys",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("target_type", sa.String(length=8), nullable=False),
        sa.Column("target_key", sa.String(length=128), nullable=False),
        sa.Column("recorded_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("purged_at", consent_service.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["subject_id"], ["subjects.id"], name=op.f("fk_proof_keys_subject_id_subjects")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_proof_keys")),
    )
    with op.batch_alter_table("proof_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_proof_keys_target", ["subject_id", "target_type", "target_key"], unique=False
        )

    op.create_table(
        "retention_rule_versions",
        sa.Column("rule_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("created_at", consent_service.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["rule_key"],
            ["retention_rules.key"],
            name=op.f("fk_retention_rule_versions_rule_key_retention_rules"),
        ),
        sa.PrimaryKeyConstraint("rule_key", "version", name=op.f("pk_retention_rule_versions")),
    )
    with op.batch_alter_table("dsar_requests", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("contact_purged_at", consent_service.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.alter_column("identities_ct", existing_type=sa.LargeBinary(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("dsar_requests", schema=None) as batch_op:
        batch_op.alter_column("identities_ct", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column("contact_purged_at")

    op.drop_table("retention_rule_versions")
    with op.batch_alter_table("proof_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_proof_keys_target")

    op.drop_table("proof_keys")
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_index("ix_legal_holds_subject")

    op.drop_table("legal_holds")
    with op.batch_alter_table("retention_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_retention_runs_state")

    op.drop_table("retention_runs")
    op.drop_table("retention_rules")
