"""Confirmation links of double opt-in: one row per e-mail sent.

Only the SHA-256 hash of the link's token is stored, so a copy of the database opens no link.
The address the e-mail went to is sealed under the subject's data key (``address_ct``), so a
crypto-shredded subject can no longer be mailed. ``used_at`` is set once, by the confirmation
(or when a newer e-mail replaces the link); ``confirmed_event_id`` is the effective grant.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class OptinLink(Base):
    __tablename__ = "optin_links"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pending_event_id: Mapped[str] = mapped_column(String(36), index=True)
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("subjects.id"), index=True)
    purpose_key: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    address_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    confirmed_event_id: Mapped[str | None] = mapped_column(String(36))
    resend_count: Mapped[int] = mapped_column(Integer, default=0)
    resent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
