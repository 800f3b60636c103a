"""consent counts per purpose without the site (what the statistics read for all sites), the
time zone the counts' days are in, and an index for reading one site's counts

``consent_purpose_daily`` is ``consent_daily`` summed over sites: filled here from it (one
set-based statement), then written with every append (``ledger.counts``). The counts built so far
(migration 0026, every append since) are on UTC days, so ``consent_counts_zone`` records UTC;
``consent-service stats rebuild`` moves them to the configured ``CONSENT_TIMEZONE``.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 20:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

BACKFILL = """
INSERT INTO consent_purpose_daily (purpose_key, day, decision, method, events, first_events)
SELECT purpose_key, day, decision, method, sum(events), sum(first_events)
FROM consent_daily
GROUP BY purpose_key, day, decision, method
"""


def upgrade() -> None:
    op.create_table(
        "consent_purpose_daily",
        sa.Column("purpose_key", sa.String(length=128), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("first_events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "purpose_key", "day", "decision", "method", name=op.f("pk_consent_purpose_daily")
        ),
    )
    op.create_index("ix_consent_purpose_daily_day", "consent_purpose_daily", ["day"], unique=False)
    op.execute(BACKFILL)
    op.create_index("ix_consent_daily_site_day", "consent_daily", ["site", "day"], unique=False)
    zone = op.create_table(
        "consent_counts_zone",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_counts_zone")),
    )
    op.bulk_insert(zone, [{"id": 1, "time_zone": "UTC"}])


def downgrade() -> None:
    op.drop_table("consent_counts_zone")
    op.drop_index("ix_consent_daily_site_day", table_name="consent_daily")
    op.drop_index("ix_consent_purpose_daily_day", table_name="consent_purpose_daily")
    op.drop_table("consent_purpose_daily")
