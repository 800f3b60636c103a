"""Tables of retention: rules (versioned) and sweeper runs (legal holds: ``erasure.models``).

A rule's content lives in immutable ``retention_rule_versions`` rows identified by a content
hash; ``retention_rules`` points at the current version (like purposes). Retiring a rule keeps
every version. ``retention_runs`` holds one row per sweep: its state, a
heartbeat (so a run whose process died is recognised and taken over) and its report; the final
report is also appended to the ``retention`` audit log, whose sequence number the row keeps.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class RetentionRule(Base):
    __tablename__ = "retention_rules"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    current_version: Mapped[int] = mapped_column(Integer)
    current_hash: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class RetentionRuleVersion(Base):
    __tablename__ = "retention_rule_versions"

    rule_key: Mapped[str] = mapped_column(String(64), ForeignKey("retention_rules.key"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    rule: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))


class RetentionRun(Base):
    __tablename__ = "retention_runs"
    __table_args__ = (Index("ix_retention_runs_state", "state", "started_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(12))  # running | completed | failed | interrupted
    dry_run: Mapped[bool] = mapped_column(Boolean)
    store: Mapped[str | None] = mapped_column(String(64))
    started_by: Mapped[str] = mapped_column(String(64))  # client id, "cli" or "schedule"
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    report: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)
