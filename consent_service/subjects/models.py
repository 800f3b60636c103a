"""Subject, identity and data-key tables.

No identity value is stored in plaintext: ``identities.blind_index`` is an HMAC of the
normalised value (for lookup) and ``value_ct`` the value sealed under the subject's data key.
``subjects.root_id`` is the subject whose consent decisions a linked subject follows; it is a
projection of the ``linked`` events in the ledger.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class Subject(Base):
    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    root_id: Mapped[str] = mapped_column(String(40), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class Identity(Base):
    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("type", "blind_index", name="uq_identities_type_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("subjects.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    # NULL once the subject is shredded: the identity can no longer be found.
    blind_index: Mapped[str | None] = mapped_column(String(64))
    # Which blind-index key made ``blind_index`` (keys are rotated by ``keys reindex``).
    index_version: Mapped[int] = mapped_column(Integer, server_default="1")
    value_ct: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class SubjectKey(Base):
    __tablename__ = "subject_keys"

    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("subjects.id"), primary_key=True)
    kek_version: Mapped[int] = mapped_column(Integer)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    shredded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class IdentityType(Base):
    """An identity type the operator registered beside the built-in ones (see identity_types.py)."""

    __tablename__ = "identity_types"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    case: Mapped[str] = mapped_column(String(8))  # lower, upper or keep
    trim: Mapped[bool] = mapped_column(Boolean)
    pattern: Mapped[str | None] = mapped_column(String(400))
    dsar_allowed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
