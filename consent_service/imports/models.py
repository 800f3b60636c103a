"""``import_rows``: one row per imported decision, keyed by a digest of its source and content.

It is what makes an import idempotent: a decision whose key is here was written before (by an
earlier run of the same file, or an interrupted one) and is not written again.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class ImportRow(Base):
    __tablename__ = "import_rows"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(36))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
