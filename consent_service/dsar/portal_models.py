"""``portal_challenges``: the proofs of work the portal has accepted, so each is accepted once.

One row per solved challenge, keyed by a SHA-256 of its signature (which the service made and
no two challenges share), kept until the challenge could no longer be accepted anyway. The
primary key makes the second use fail in whichever process of the deployment it comes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime


class PortalChallenge(Base):
    __tablename__ = "portal_challenges"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
