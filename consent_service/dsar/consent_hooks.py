"""Consent webhooks: recipients following ``consent`` are told of consent decisions in signed
batches read from the ledger, never per write, so recording consent costs nothing more.

Each such recipient has a cursor (``ConsentCursor``): the ledger seq up to which it was told.
``deliver`` (a step of the worker's periodic work, next to the outbox) claims the cursors that
are due and behind the ledger's head, and for each POSTs one batch of up to
``CONSENT_WEBHOOK_BATCH`` consent events after it, in the change feed's shape (with the
identity types of each subject, never an identity's value or the proof), signed like every
recipient webhook (``recipients.post_signed``). A 2xx answer moves the cursor past the batch;
any other answer leaves it and retries with the outbox's backoff (``outbox.retry_delay``),
without end: nothing is skipped. Events of crypto-shredded subjects are sent like any other.

Two workers never send the same batch: a claim locks the cursor row (``FOR UPDATE SKIP
LOCKED``; SQLite has one writer) and leases it for ``LEASE``; the cursor then moves only from
the seq the claim read (compare-and-set), so a batch whose delivery was overtaken (a replay set
over the API, an expired lease) does not move it back or forward. A worker that dies between
sending and recording lets the lease expire and the batch is sent again: delivery is at least
once, and each event's ``seq`` lets the recipient drop a repeat.
"""

from __future__ import annotations

import datetime as dt
import logging
import urllib.error
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from consent_service.context import Context
from consent_service.dsar import outbox, recipients
from consent_service.dsar.task_models import ConsentCursor
from consent_service.ledger.feed import consent_events, head_seq

log = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=5)
MAX_ROUNDS = 10  # batches per recipient in one ``deliver`` when it is far behind


def _claim(ctx: Context, limit: int) -> tuple[int, list[tuple[str, int]]]:
    """The ledger head and the (recipient, cursor) pairs now leased to this process."""
    now = ctx.now()
    with ctx.uow() as uow:
        session = uow.session
        upto = head_seq(session)
        stmt = (
            select(ConsentCursor)
            .where(ConsentCursor.next_attempt_at <= now, ConsentCursor.after_seq < upto)
            .order_by(ConsentCursor.next_attempt_at, ConsentCursor.recipient_key)
            .limit(limit)
        )
        if not ctx.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        claimed = []
        for cursor in session.scalars(stmt):
            cursor.next_attempt_at = now + LEASE
            claimed.append((cursor.recipient_key, cursor.after_seq))
        uow.commit()
    return upto, claimed


def _json_event(event: dict[str, Any]) -> dict[str, Any]:
    """As ``GET /v1/events`` shows it: the target as ``purpose`` / ``cookie``, times in ISO 8601."""
    return {
        k: v.isoformat() if isinstance(v, dt.datetime) else v
        for k, v in event.items()
        if k not in ("target_type", "target_key")
    }


def batch(ctx: Context, key: str, after: int, upto: int) -> dict[str, Any]:
    """The document sent to recipient ``key`` for the consent events in ``(after, upto]``: at most
    ``CONSENT_WEBHOOK_BATCH`` of them; ``next_after`` is where its cursor goes once delivered."""
    size = ctx.config.webhook_batch
    with ctx.uow(write=False) as uow:
        events = consent_events(uow.session, after, upto, size)
    full = len(events) == size
    return {
        "event": "consent",
        "recipient": key,
        "after": after,
        "next_after": events[-1]["seq"] if full else upto,
        "has_more": full and events[-1]["seq"] < upto,
        "events": [_json_event(e) for e in events],
    }


def _record(ctx: Context, key: str, after: int, error: str | None, next_after: int, sent: bool) -> bool:
    """Move the cursor (or note the failure) if it is still where the claim found it."""
    now = ctx.now()
    with ctx.uow() as uow:
        where = (ConsentCursor.recipient_key == key, ConsentCursor.after_seq == after)
        if error is None:
            values: dict[str, Any] = {
                "after_seq": next_after,
                "attempts": 0,
                "last_error": None,
                "next_attempt_at": now,
            }
            if sent:
                values["delivered_at"] = now
            result = uow.session.execute(update(ConsentCursor).where(*where).values(**values))
            moved = cast(CursorResult[Any], result).rowcount
        else:
            cursor = uow.session.scalars(select(ConsentCursor).where(*where)).first()
            if cursor is not None:
                cursor.attempts += 1
                cursor.last_error = error
                cursor.next_attempt_at = now + outbox.retry_delay(cursor.attempts)
            moved = int(cursor is not None)
        uow.commit()
    if not moved:
        log.info("consent cursor of %s moved while its batch after %d was sent", key, after)
    return bool(moved)


def _deliver_one(ctx: Context, key: str, after: int, upto: int) -> tuple[dict[str, Any], str | None]:
    document = batch(ctx, key, after, upto)
    error: str | None = None
    if document["events"]:
        try:
            recipients.post_signed(ctx, key, document)
        except urllib.error.HTTPError as exc:
            error = f"HTTP {exc.code}: {exc.reason}"
        except (OSError, RuntimeError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
    _record(ctx, key, after, error, document["next_after"], bool(document["events"]))
    return document, error


def deliver(ctx: Context, *, limit: int = 50) -> dict[str, int]:
    """Send the due consent batches of up to ``limit`` recipients (several batches each while one
    is far behind, at most ``MAX_ROUNDS``); returns counts of batches sent, events in them and
    failed attempts."""
    counts = {"sent": 0, "events": 0, "failed": 0}
    for _ in range(MAX_ROUNDS):
        upto, claimed = _claim(ctx, limit)
        behind = False
        for key, after in claimed:
            document, error = _deliver_one(ctx, key, after, upto)
            if error is not None:
                counts["failed"] += 1
                continue
            if document["events"]:
                counts["sent"] += 1
                counts["events"] += len(document["events"])
            behind = behind or document["has_more"]
        if not behind:
            break
    return counts


def status(ctx: Context) -> list[dict[str, Any]]:
    """Each consent subscription: its cursor, how many seqs the ledger is ahead of it (``behind``),
    its failed attempts, next attempt, last error and last delivery."""
    with ctx.uow(write=False) as uow:
        session = uow.session
        head = head_seq(session)
        cursors = session.scalars(select(ConsentCursor).order_by(ConsentCursor.recipient_key)).all()
        return [
            {
                "recipient": c.recipient_key,
                "after_seq": c.after_seq,
                "behind": max(head - c.after_seq, 0),
                "attempts": c.attempts,
                "next_attempt_at": c.next_attempt_at,
                "last_error": c.last_error,
                "delivered_at": c.delivered_at,
            }
            for c in cursors
        ]
