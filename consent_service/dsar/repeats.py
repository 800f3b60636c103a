"""Repeated requests (Art. 12(5)), computed on read and never stored.

A request's ``repeats`` are the other requests of the same type from the same subject group
(subjects linked to one root, ``subjects.root_id``) received within ``CONSENT_REPEAT_WINDOW``
(default ``P3M``) before it. They inform the DPO, who may refuse an excessive request
(``refusal``); nothing is refused automatically. A stored count would go stale when subjects
are linked later; reading it costs three queries for any number of requests
(``ix_dsar_requests_repeats`` on subject_id, type, received_at).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.dsar.request_models import DsarRequest
from consent_service.durations import parse_duration
from consent_service.subjects.models import Subject


def repeats(session: Session, window: str, requests: Sequence[DsarRequest]) -> dict[str, dict[str, Any]]:
    """For each request: the earlier requests of its type and subject group within ``window``."""
    span = parse_duration(window)
    if not requests:
        return {}
    root = dict(
        session.execute(
            select(Subject.id, Subject.root_id).where(Subject.id.in_({r.subject_id for r in requests}))
        ).all()
    )
    group = dict(
        session.execute(
            select(Subject.id, Subject.root_id).where(Subject.root_id.in_(set(root.values())))
        ).all()
    )
    earliest = min(r.received_at for r in requests) - span
    others = session.execute(
        select(DsarRequest.id, DsarRequest.subject_id, DsarRequest.type, DsarRequest.received_at).where(
            DsarRequest.subject_id.in_(set(group) | set(root)),
            DsarRequest.type.in_({r.type for r in requests}),
            DsarRequest.received_at >= earliest,
        )
    ).all()
    out = {}
    for r in requests:
        mine = root.get(r.subject_id, r.subject_id)
        ids = sorted(
            (o.received_at, o.id)
            for o in others
            if o.id != r.id
            and o.type == r.type
            and group.get(o.subject_id, o.subject_id) == mine
            and r.received_at - span <= o.received_at <= r.received_at
        )
        out[r.id] = {"count": len(ids), "window": window, "request_ids": [i for _, i in ids]}
    return out
