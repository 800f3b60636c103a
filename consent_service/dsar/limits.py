"""What a request leaves in force in the processing gate: the rows of ``subject_restrictions``.

Kinds of row (the gate reads them in ``ledger.queries``; the strongest wins, in this order):

- ``restriction`` (Art. 18) for the named purposes, or ``*`` for all of them;
- ``objection`` (Art. 21) for the named purposes. An objection that names a purpose flagged
  ``direct_marketing`` is absolute (Art. 21(3)) and also writes a row for the class
  ``@direct_marketing``: it covers every direct-marketing purpose, those registered later too;
- ``held`` (``*``) with one ``held_for`` row per purpose of the holds: an erasure kept under a legal
  hold on the subject leaves the person restricted (Art. 17(3), 18(1)): every purpose answers
  ``held`` except the holds' purposes, which may continue for what the hold keeps the data for.

Each function runs in the caller's transaction and does not commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.dsar.request_models import DsarRequest
from consent_service.ledger.models import SubjectRestriction
from consent_service.registry.models import Purpose

DIRECT_MARKETING = "@direct_marketing"  # a class of purposes; '@' is never in a purpose key
EVERY_PURPOSE = "*"


def _row(request: DsarRequest, purpose: str, kind: str, now: dt.datetime, **extra: Any) -> SubjectRestriction:
    return SubjectRestriction(
        subject_id=request.subject_id,
        purpose_key=purpose,
        kind=kind,
        absolute=extra.pop("absolute", False),
        request_id=request.id,
        created_at=now,
        details=extra or None,
    )


def apply(session: Session, request: DsarRequest, now: dt.datetime) -> None:
    """Put a verified restriction or objection in force for its purposes (all, if none named)."""
    purposes = request.purposes or [EVERY_PURPOSE]
    marketing = set(
        session.scalars(
            select(Purpose.key).where(Purpose.key.in_(purposes), Purpose.direct_marketing.is_(True))
        )
    )
    absolute = request.type == "objection"
    for purpose in purposes:
        session.add(_row(request, purpose, request.type, now, absolute=absolute and purpose in marketing))
    if absolute and marketing:
        session.add(_row(request, DIRECT_MARKETING, "objection", now, absolute=True, named=sorted(marketing)))


def hold_erasure(
    session: Session, request: DsarRequest, holds: Iterable[dict[str, Any]], now: dt.datetime
) -> None:
    """After an erasure kept under ``holds`` (briefs): restricted, except for the holds' purposes."""
    held = list(holds)
    done = session.scalar(
        select(SubjectRestriction.id).where(
            SubjectRestriction.request_id == request.id, SubjectRestriction.kind == "held"
        )
    )
    if done is not None:  # a run that completes again writes nothing twice
        return
    session.add(_row(request, EVERY_PURPOSE, "held", now, holds=[h["key"] for h in held]))
    for purpose in sorted({h["purpose"] for h in held if h.get("purpose")}):
        session.add(
            _row(
                request,
                purpose,
                "held_for",
                now,
                holds=[h["key"] for h in held if h.get("purpose") == purpose],
            )
        )
