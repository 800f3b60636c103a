"""Tables of the work that finishes outside the service: manual tasks and Art. 19 recipients.

``dsar_tasks`` holds one task per manual store a request is waiting for (open | done), with
the instructions and due date the connector gave and who closed it with which note.
``dsar_recipients`` holds the controllers and processors the data was disclosed to, told of
erasures, rectifications and restrictions by signed webhooks; their shared secret is only stored
sealed (like store connections, see ``store_secrets``). Their country and the safeguard of a
transfer outside the EEA are shown in access packages (Art. 15(2), see ``transfers``).
``consent_cursors`` holds, per recipient following ``consent``, the ledger seq up to which
consent events were delivered, and the attempts, next attempt and last error of its delivery
(see ``consent_hooks``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class DsarTask(Base):
    __tablename__ = "dsar_tasks"
    __table_args__ = (Index("ix_dsar_tasks_request_state", "request_id", "state"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(40), ForeignKey("dsar_requests.id"))
    store: Mapped[str] = mapped_column(String(64))
    instructions: Mapped[str] = mapped_column(Text)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(8))  # open | done
    note: Mapped[str | None] = mapped_column(Text)
    done_by: Mapped[str | None] = mapped_column(String(64))
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Recipient(Base):
    __tablename__ = "dsar_recipients"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(500))
    events: Mapped[list[str]]
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2; None = not recorded
    safeguard: Mapped[str | None] = mapped_column(String(40))  # third countries only (Chapter V)
    secret_box: Mapped[bytes] = mapped_column(LargeBinary)
    secret_kek: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ConsentCursor(Base):
    """How far a recipient following ``consent`` has been told of the ledger."""

    __tablename__ = "consent_cursors"

    recipient_key: Mapped[str] = mapped_column(
        String(64), ForeignKey("dsar_recipients.key", ondelete="CASCADE"), primary_key=True
    )
    after_seq: Mapped[int] = mapped_column(BigInteger)  # the last seq delivered (or skipped)
    attempts: Mapped[int] = mapped_column(Integer)  # failed attempts since the last delivery
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
