"""The table of staff accounts. Passwords are stored only as Argon2id hashes; a TOTP secret only
sealed (AES-256-GCM under a key derived from the master key, see ``staff.totp``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(200))
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_sign_in_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # the second factor: sealed secret and the master key version that sealed it; enrolled_at is
    # None while an enrolment waits for its first code; last_step refuses a code used once again
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_kek: Mapped[int | None] = mapped_column(Integer)
    totp_enrolled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
