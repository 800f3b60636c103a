"""Whose consent ended: the ledger's answer for retention (``consent_ended`` rules).

Read from the projection (``consent_state``) as the gate reads it: the linked group's latest
decision on the purpose decides.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import and_, or_, select

from consent_service.ledger.models import ConsentState
from consent_service.subjects.models import Subject, SubjectKey


def ended_groups(session: Any, purpose: str, cutoff: dt.datetime) -> list[str]:
    """Roots of linked groups whose latest decision on ``purpose`` ended at or before ``cutoff``:
    withdrawn or refused then, or granted but expired then. Groups already shredded are left out."""
    on_purpose = and_(ConsentState.target_type == "purpose", ConsentState.target_key == purpose)
    ended = or_(
        and_(ConsentState.decision.in_(("withdrawn", "denied")), ConsentState.recorded_at <= cutoff),
        and_(ConsentState.decision == "granted", ConsentState.valid_until <= cutoff),
    )
    candidates = list(
        session.scalars(
            select(Subject.root_id)
            .distinct()
            .join(ConsentState, Subject.id == ConsentState.subject_id)
            .join(SubjectKey, SubjectKey.subject_id == Subject.root_id)
            .where(on_purpose, ended, SubjectKey.wrapped_key.is_not(None))
            .order_by(Subject.root_id)
        )
    )
    out: list[str] = []
    for start in range(0, len(candidates), 500):
        chunk = candidates[start : start + 500]
        latest: dict[str, tuple[int, bool]] = {}
        rows = session.execute(
            select(Subject.root_id, ConsentState.seq, ended)
            .join(ConsentState, Subject.id == ConsentState.subject_id)
            .where(on_purpose, Subject.root_id.in_(chunk))
        )
        for root, seq, is_ended in rows:  # the group's latest decision decides, as in the gate
            if root not in latest or seq > latest[root][0]:
                latest[root] = (seq, bool(is_ended))
        out.extend(root for root in chunk if latest.get(root, (0, False))[1])
    return out


def has_live_consent(session: Any, root: str, now: dt.datetime) -> bool:
    row = session.execute(
        select(ConsentState.subject_id)
        .join(Subject, Subject.id == ConsentState.subject_id)
        .where(
            Subject.root_id == root,
            ConsentState.decision == "granted",
            or_(ConsentState.valid_until.is_(None), ConsentState.valid_until > now),
        )
        .limit(1)
    ).first()
    return row is not None
