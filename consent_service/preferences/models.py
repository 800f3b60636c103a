"""Sign-in links of the preference centre: one row per e-mail sent, so each link works once.

The link itself is a signed token (``tokens``) carrying a random nonce; only the nonce's SHA-256
is stored (``onetime``), so a copy of the database opens no link. ``used_at`` is set by the
sign-in that uses it. A row is of no use once ``expires_at`` has passed (the token's signature
expires with it) and is purged then (``service.purge_signin_links``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class SigninLink(Base):
    __tablename__ = "preference_signin_links"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("subjects.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
