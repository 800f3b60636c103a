"""Tables of data subject requests: the requests, their e-mail verification, the outbox of
messages to send (the restrictions and objections the gate enforces: ``ledger.models``).

Personal data in these tables (the requester's identities and contact, rectification values,
message bodies) is sealed under the subject's data key, like everything else.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class DsarRequest(Base):
    __tablename__ = "dsar_requests"
    __table_args__ = (
        Index("ix_dsar_requests_state_due", "state", "due_at"),
        # Art. 12(5) repetitions are counted on read: same subject, same type, received before
        Index("ix_dsar_requests_repeats", "subject_id", "type", "received_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(20))
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("subjects.id"), index=True)
    # NULL once the requester's contact data passed its retention (``contact_purged_at``)
    identities_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    changes_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    purposes: Mapped[list[str]]
    verification_method: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    original_due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    extension_months: Mapped[int] = mapped_column(Integer, default=0)
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    contact_purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # why the last run failed, for the DPO (no stack trace, no personal data); NULL otherwise
    failure_reason: Mapped[str | None] = mapped_column(Text)
    # the requester's language (BCP 47 as given); messages use its best supported match
    language: Mapped[str] = mapped_column(String(16), server_default="en")
    # manifestly_unfounded | excessive | identity_not_verified | other; NULL unless refused
    refusal_ground: Mapped[str | None] = mapped_column(String(24))


class DsarVerification(Base):
    __tablename__ = "dsar_verifications"

    request_id: Mapped[str] = mapped_column(String(40), ForeignKey("dsar_requests.id"), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)


class OutboxMessage(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # email | webhook
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("subjects.id"))
    payload_ct: Mapped[bytes] = mapped_column(LargeBinary)
    state: Mapped[str] = mapped_column(String(12))  # pending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # NULL: sealed under the subject's data key; "service:<n>": under a per-message key derived
    # from master key version n (an erasure confirmation outlives the subject's key)
    sealed_with: Mapped[str | None] = mapped_column(String(16))
