"""Segments: every subject the gate allows for a purpose now, paged by a keyset cursor.

A page scans subject ids in database order after the cursor's id, at most ``SCAN_FACTOR``
times the page size, and keeps those the gate allows (the gate's inputs come from
``group_states``, the batch gate's query). A page therefore never holds more than the
scanned rows, and following ``next_cursor`` exports any number of subjects. The cursor also
carries the change feed's head at the start of the export (``feed_after``): a CRM follows
``GET /v1/events?after=<feed_after>`` afterwards to see what changed meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from consent_service.context import Context
from consent_service.errors import InvalidInput
from consent_service.ledger.feed import head_seq
from consent_service.ledger.group_states import group_states, purpose_info
from consent_service.subjects import service as subjects
from consent_service.subjects.models import Subject

MAX_LIMIT = 1000
SCAN_FACTOR = 10  # a page reads at most this many subject ids per item asked for
_MAX_ID = 40
_MAX_CURSOR = 400


@dataclass(frozen=True, slots=True)
class Cursor:
    after: str  # the last subject id scanned ("" before the first)
    feed_after: int  # the change feed's head when the export began


def encode_cursor(cursor: Cursor) -> str:
    raw = json.dumps({"after": cursor.after, "feed": cursor.feed_after}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    """The cursor a previous page handed out; anything else is ``InvalidInput``."""
    bad = InvalidInput("the cursor is not one this service handed out", errors={"cursor": ["invalid cursor"]})
    if len(token) > _MAX_CURSOR:
        raise bad
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, dict) or set(data) != {"after", "feed"}:
        raise bad
    after, feed = data["after"], data["feed"]
    if not isinstance(after, str) or not 0 < len(after) <= _MAX_ID:
        raise bad
    if not isinstance(feed, int) or isinstance(feed, bool) or feed < 0:
        raise bad
    return Cursor(after, feed)


def _identity(session: Any, ctx: Context, subject_id: str, kind: str) -> str | None:
    for identity in subjects.identities_of(session, ctx.crypto, subject_id):
        if identity["type"] == kind:
            return identity["value"]
    return None


def segment_page(
    ctx: Context, purpose_key: str, *, cursor: str | None, limit: int, identity: str | None = None
) -> dict[str, Any]:
    """Up to ``limit`` subjects the gate allows for the purpose now, in subject id order after the
    cursor, each with its decision time and (``identity``) its identity of that type or None.

    ``next_cursor`` is None once every subject was scanned; a page may be short (even empty)
    while it is not, because a page reads at most ``SCAN_FACTOR * limit`` subjects.
    Raises ``UnknownPurpose`` and ``InvalidInput`` (a cursor not handed out by this function).
    """
    if not 0 < limit <= MAX_LIMIT:
        raise InvalidInput("bad limit", errors={"limit": [f"between 1 and {MAX_LIMIT}"]})
    start = decode_cursor(cursor) if cursor else None
    now = ctx.now()
    items: list[dict[str, Any]] = []
    with ctx.uow(write=False) as uow:
        session = uow.session
        conn = session.connection()
        purpose = purpose_info(conn, purpose_key)
        feed_after = start.feed_after if start else head_seq(session)
        after = start.after if start else ""
        budget, done = SCAN_FACTOR * limit, False
        while len(items) < limit and budget > 0:
            want = min(limit, budget)
            ids = list(
                session.scalars(select(Subject.id).where(Subject.id > after).order_by(Subject.id).limit(want))
            )
            budget -= len(ids)
            states = group_states(conn, purpose, ids)
            for subject_id in ids:
                after = subject_id
                state = states.get(subject_id)
                if state is None or not state.decide(purpose, now).allowed:
                    continue
                items.append(_item(session, ctx, subject_id, state.decided_at, identity))
                if len(items) == limit:
                    break
            if len(ids) < want and (not ids or after == ids[-1]):
                done = True  # every subject was scanned
                break
        if not done and len(items) < limit:
            done = session.scalar(select(Subject.id).where(Subject.id > after).limit(1)) is None
    return {
        "items": items,
        "next_cursor": None if done else encode_cursor(Cursor(after, feed_after)),
        "feed_after": feed_after,
    }


def _item(
    session: Any, ctx: Context, subject_id: str, decided_at: dt.datetime | None, identity: str | None
) -> dict[str, Any]:
    item: dict[str, Any] = {"subject_id": subject_id, "decided_at": decided_at}
    if identity is not None:
        item["identity"] = _identity(session, ctx, subject_id, identity)
    return item
