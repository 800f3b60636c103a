"""The table of legal holds: data that must be kept whatever retention or an erasure would do.

Holds are mutable (extend, release); every change is also written to the tamper-evident ``holds``
audit log (``erasure.holds``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class LegalHold(Base):
    __tablename__ = "legal_holds"
    __table_args__ = (Index("ix_legal_holds_subject", "subject_id"),)

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    subject_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("subjects.id"))
    store: Mapped[str | None] = mapped_column(String(64))
    collection: Mapped[str | None] = mapped_column(String(64))
    # the purpose the held data is kept for (a legal obligation, a legal claim): after an erasure
    # kept under this hold, only this purpose may still be processed (see dsar.execution)
    purpose: Mapped[str | None] = mapped_column(String(64), ForeignKey("purposes.key"))
    reason: Mapped[str] = mapped_column(Text)
    ends_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    released_by: Mapped[str | None] = mapped_column(String(64))
    release_reason: Mapped[str | None] = mapped_column(Text)
