"""the consent counts follow the ledger: ``consent_counts_state`` records how far
(``through_seq``) beside the time zone their days are in, replacing ``consent_counts_zone``

Until this revision every append wrote the counts in its own transaction, so the counts built so
far hold every event up to the ledger head: ``through_seq`` starts there, with the zone the old
table recorded. From now on the write path leaves the counts alone and the events after
``through_seq`` are folded in afterwards (``ledger.counts``, ``ledger.stats.catch_up``).

Downgrade: the older code counts in the write path again and knows nothing of ``through_seq``;
events written after the last catch-up are then not counted until ``consent-service stats
rebuild`` runs.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 15:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

CARRY_OVER = """
INSERT INTO consent_counts_state (id, through_seq, time_zone)
SELECT 1, COALESCE((SELECT seq FROM ledger_head WHERE id = 1), 0),
       COALESCE((SELECT time_zone FROM consent_counts_zone WHERE id = 1), 'UTC')
"""

CARRY_BACK = """
INSERT INTO consent_counts_zone (id, time_zone)
SELECT 1, COALESCE((SELECT time_zone FROM consent_counts_state WHERE id = 1), 'UTC')
"""


def upgrade() -> None:
    op.create_table(
        "consent_counts_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_counts_state")),
    )
    op.execute(CARRY_OVER)
    op.drop_table("consent_counts_zone")


def downgrade() -> None:
    op.create_table(
        "consent_counts_zone",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_counts_zone")),
    )
    op.execute(CARRY_BACK)
    op.drop_table("consent_counts_state")
