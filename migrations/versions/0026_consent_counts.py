"""consent counts: the ledger's consent decisions on purposes per day and cell, for statistics
(and per day, purpose, site, decision and method, which the statistics read)

The table is filled here from the events already in the ledger (one set-based statement), so an
upgrade needs no manual step; from then on every append adds to it (``ledger.counts``).

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 18:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

# The fold of ``ledger.counts`` in SQL: the day an event counts on is the UTC date of its source
# time (imported) or its own; an event is its subject's first on the purpose that day when it has
# the lowest seq among them.
BACKFILL = """
INSERT INTO consent_counts
    (purpose_key, day, site, channel, method, language, decision, events, first_events)
SELECT target_key, day, site, channel, method, language, decision,
       count(*), sum(CASE WHEN rn = 1 THEN 1 ELSE 0 END)
FROM (
    SELECT target_key, {day} AS day,
           CASE WHEN actor_type = 'site' THEN actor_id ELSE '' END AS site,
           coalesce(channel, '') AS channel, coalesce(method, '') AS method,
           coalesce(language, '') AS language, decision,
           row_number() OVER (PARTITION BY subject_id, target_key, {day} ORDER BY seq) AS rn
    FROM ledger_events
    WHERE kind = 'consent' AND target_type = 'purpose'
) AS counted
GROUP BY target_key, day, site, channel, method, language, decision
"""
# consent_daily: the same counts summed over channel and language
ROLLUP = """
INSERT INTO consent_daily (purpose_key, day, site, decision, method, events, first_events)
SELECT purpose_key, day, site, decision, method, sum(events), sum(first_events)
FROM consent_counts
GROUP BY purpose_key, day, site, decision, method
"""
DAY = {
    "sqlite": "date(coalesce(recorded_at_source, recorded_at))",
    "postgresql": "CAST(coalesce(recorded_at_source, recorded_at) AT TIME ZONE 'UTC' AS DATE)",
}


def upgrade() -> None:
    op.create_table(
        "consent_counts",
        sa.Column("purpose_key", sa.String(length=128), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("first_events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "purpose_key",
            "day",
            "site",
            "channel",
            "method",
            "language",
            "decision",
            name=op.f("pk_consent_counts"),
        ),
    )
    op.create_index("ix_consent_counts_day", "consent_counts", ["day"], unique=False)
    op.create_table(
        "consent_daily",
        sa.Column("purpose_key", sa.String(length=128), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("first_events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "purpose_key", "day", "site", "decision", "method", name=op.f("pk_consent_daily")
        ),
    )
    op.create_index("ix_consent_daily_day", "consent_daily", ["day"], unique=False)
    dialect = op.get_bind().dialect.name
    op.execute(BACKFILL.format(day=DAY[dialect]))
    op.execute(ROLLUP)


def downgrade() -> None:
    op.drop_index("ix_consent_daily_day", table_name="consent_daily")
    op.drop_table("consent_daily")
    op.drop_index("ix_consent_counts_day", table_name="consent_counts")
    op.drop_table("consent_counts")
