"""The table of registered data stores.

``spec`` holds the validated, secret-free description (type, description, collections);
``connection_shape`` the connection with every secret hidden, for display. The connection
itself is only stored sealed (``secret_box``, AES-256-GCM) under a key derived from master key
``secret_kek``; see ``consent_service.stores.registry``. ``store_checks`` keeps each store's last
connection test, so the console can show how the store fared and when.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class DataStore(Base):
    __tablename__ = "data_stores"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    spec: Mapped[dict[str, Any]]
    connection_shape: Mapped[dict[str, Any]]
    secret_box: Mapped[bytes] = mapped_column(LargeBinary)
    secret_kek: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class StoreCheck(Base):
    """The last connection test of a store: when, by whom, and its report (one row per store)."""

    __tablename__ = "store_checks"

    store_key: Mapped[str] = mapped_column(String(64), ForeignKey("data_stores.key"), primary_key=True)
    ok: Mapped[bool] = mapped_column(Boolean)
    report: Mapped[dict[str, Any]]
    checked_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    checked_by: Mapped[str] = mapped_column(String(64))
