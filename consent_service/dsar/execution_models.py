"""Tables of request execution: per-store progress, proof-of-erasure reports, access packages.

``dsar_store_runs`` records where a request stands in each store (done | pending | failed), so
a re-run skips the stores already done. ``dsar_reports`` holds one report per store and request
(counts, actions, holds, timestamps: never personal data). ``dsar_packages`` holds the access
or portability package sealed under the subject's data key, so shredding the subject makes it
unreadable.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class DsarStoreRun(Base):
    __tablename__ = "dsar_store_runs"

    request_id: Mapped[str] = mapped_column(String(40), ForeignKey("dsar_requests.id"), primary_key=True)
    store: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))  # done | pending | failed
    detail: Mapped[dict[str, Any]]
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # records a store sent in its callback (access), sealed under the subject's data key
    records_ct: Mapped[bytes | None] = mapped_column(LargeBinary)


class DsarReport(Base):
    __tablename__ = "dsar_reports"
    __table_args__ = (UniqueConstraint("request_id", "store", name="uq_dsar_reports_request_store"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(40), ForeignKey("dsar_requests.id"), index=True)
    store: Mapped[str] = mapped_column(String(64))
    report: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class DsarPackage(Base):
    __tablename__ = "dsar_packages"

    request_id: Mapped[str] = mapped_column(String(40), ForeignKey("dsar_requests.id"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    json_ct: Mapped[bytes] = mapped_column(LargeBinary)
    csv_ct: Mapped[bytes] = mapped_column(LargeBinary)
    html_ct: Mapped[bytes] = mapped_column(LargeBinary)
