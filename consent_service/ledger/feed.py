"""The ledger's change feed: events after a cursor, optionally only some purposes or one subject,
each telling the identity types of its subject (never an identity's value or the proof).

The feed (``GET /v1/events``) and the consent webhooks (``dsar.consent_hooks``) show events in
the same shape, ``feed_event``. Both read in seq order from a cursor the caller keeps.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from consent_service.context import Context
from consent_service.ledger.models import LedgerEvent, LedgerHead
from consent_service.ledger.queries import EVENT_FIELDS, event_view
from consent_service.subjects.models import Identity, Subject


def identity_types(session: Session, subject_ids: Iterable[str]) -> dict[str, list[str]]:
    """Subject id → the sorted types of the identities its linked group can be found by (a
    device linked to a customer: ``["device_id", "email"]``). An erased subject's identities
    have lost their blind index: it has none. Values are never read."""
    wanted = sorted(set(subject_ids))
    out: dict[str, list[str]] = {s: [] for s in wanted}
    if not wanted:
        return out
    member = aliased(Subject, name="member")
    rows = session.execute(
        select(Subject.id, Identity.type)
        .join(member, member.root_id == Subject.root_id)
        .join(Identity, Identity.subject_id == member.id)
        .where(Subject.id.in_(wanted), Identity.blind_index.is_not(None))
        .distinct()
    )
    for subject_id, kind in rows:
        out[subject_id].append(kind)
    for types in out.values():
        types.sort()
    return out


def feed_events(session: Session, events: Sequence[LedgerEvent]) -> list[dict[str, Any]]:
    """Events as the feed and the consent webhooks show them: without proof, with
    ``identity_types`` of each event's subject."""
    types = identity_types(session, (e.subject_id for e in events))
    out = []
    for event in events:
        item = event_view({name: getattr(event, name) for name in EVENT_FIELDS})
        item["identity_types"] = types[event.subject_id]
        out.append(item)
    return out


def split_keys(values: Iterable[str] | None) -> list[str]:
    """``["a,b", "c"]`` → ``["a", "b", "c"]``: a filter given repeated or as a comma list."""
    return sorted({part.strip() for value in values or () for part in value.split(",") if part.strip()})


def change_feed(
    ctx: Context,
    after: int,
    limit: int,
    *,
    purposes: Sequence[str] | None = None,
    subject_id: str | None = None,
) -> dict[str, Any]:
    """Events with ``seq > after`` in order, without proof; ``next_after`` is the cursor.

    ``purposes``: only decisions on these purposes (an unregistered key matches nothing);
    ``subject_id``: only that subject's own events. Filters read an index each
    (``ix_ledger_events_target_seq``, ``ix_ledger_events_subject_seq``)."""
    stmt = select(LedgerEvent).where(LedgerEvent.seq > after)
    if purposes:
        stmt = stmt.where(LedgerEvent.target_type == "purpose", LedgerEvent.target_key.in_(list(purposes)))
    if subject_id is not None:
        stmt = stmt.where(LedgerEvent.subject_id == subject_id)
    with ctx.uow(write=False) as uow:
        events = uow.session.scalars(stmt.order_by(LedgerEvent.seq).limit(limit)).all()
        items = feed_events(uow.session, events)
    return {
        "events": items,
        "next_after": items[-1]["seq"] if items else after,
        "has_more": len(items) == limit,
    }


def head_seq(session: Session) -> int:
    """The seq of the newest event (0 for an empty ledger); every event up to it is committed."""
    head = session.get(LedgerHead, 1)
    return head.seq if head is not None else 0


def consent_events(session: Session, after: int, upto: int, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` consent decisions with ``after < seq <= upto``, in the feed's shape."""
    events = session.scalars(
        select(LedgerEvent)
        .where(LedgerEvent.seq > after, LedgerEvent.seq <= upto, LedgerEvent.kind == "consent")
        .order_by(LedgerEvent.seq)
        .limit(limit)
    ).all()
    return feed_events(session, events)
