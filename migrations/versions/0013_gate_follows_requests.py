"""the gate follows what requests decided: consent bases stay, holds name their purpose

``purposes.consent_collected_at`` records when the first consent decision for a purpose (or one
of its cookies) was recorded; from then on the purpose's legal basis cannot leave ``consent``.
It is filled here from the ledger, once. ``legal_holds.purpose`` names the purpose held data is
kept for: after an erasure kept under a hold, only that purpose may still be processed.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import consent_service.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# The first consent event per purpose, on the purpose itself or on one of its cookies: one pass
# over the ledger (grouped), then one update per purpose.
_FIRST_CONSENTS = sa.text(
    "SELECT CASE WHEN e.target_type = 'cookie' THEN c.purpose_key ELSE e.target_key END AS purpose,"
    " MIN(e.recorded_at) AS first_at FROM ledger_events e"
    " LEFT JOIN cookies c ON e.target_type = 'cookie' AND c.name = e.target_key"
    " WHERE e.kind = 'consent' GROUP BY 1"
)
_SET = sa.text("UPDATE purposes SET consent_collected_at = :first_at WHERE key = :purpose")


def upgrade() -> None:
    with op.batch_alter_table("purposes", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consent_collected_at", consent_service.db.UTCDateTime(timezone=True), nullable=True)
        )
    bind = op.get_bind()
    firsts = [dict(row._mapping) for row in bind.execute(_FIRST_CONSENTS) if row.purpose is not None]
    if firsts:
        bind.execute(_SET, firsts)
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("purpose", sa.String(length=64), nullable=True))
        batch_op.create_foreign_key("fk_legal_holds_purpose_purposes", "purposes", ["purpose"], ["key"])


def downgrade() -> None:
    with op.batch_alter_table("legal_holds", schema=None) as batch_op:
        batch_op.drop_constraint("fk_legal_holds_purpose_purposes", type_="foreignkey")
        batch_op.drop_column("purpose")
    with op.batch_alter_table("purposes", schema=None) as batch_op:
        batch_op.drop_column("consent_collected_at")
