"""Delivering signed checkpoints to witnesses: other systems that keep a copy of each one.

Each URL of ``CONSENT_WITNESS_URLS`` gets every checkpoint, in order, as a JSON POST of the
signed document (the same as a line of the checkpoint file). ``ledger_witnesses`` remembers per
URL the last checkpoint it accepted (any 2xx), so a witness that was down catches up from there.
Delivery runs in the checkpoint scheduler after the checkpoint was committed, never inside a
consent write or the checkpoint's transaction: a witness that is down or slow delays only its
own deliveries (exponential backoff, at most an hour between tries), never a write or the next
checkpoint. Delivery is at least once: two schedulers may post the same checkpoint twice.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.request
from typing import Any

from sqlalchemy import select

from consent_service import outbound
from consent_service.context import Context
from consent_service.ledger.checkpoints import document
from consent_service.ledger.models import Checkpoint, Witness

log = logging.getLogger(__name__)

TIMEOUT_S = 5.0
BATCH = 20  # checkpoints per witness and round
MAX_BACKOFF = dt.timedelta(hours=1)


def _post(url: str, doc: dict[str, Any], policy: outbound.Policy) -> None:
    """POST one checkpoint; the address is checked when connecting, as for webhooks."""
    body = json.dumps(doc, separators=(",", ":")).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with outbound.urlopen(request, policy, timeout=TIMEOUT_S) as response:
        response.read()


def _pending(ctx: Context, url: str) -> tuple[Witness, list[dict[str, Any]]] | None:
    """The witness row (created at first use) and its undelivered checkpoints, if it is due."""
    now = ctx.now()
    with ctx.uow() as uow:
        witness = uow.session.get(Witness, url)
        if witness is None:
            witness = Witness(url=url, delivered_seq=0, attempts=0, next_attempt_at=now, last_error=None)
            uow.session.add(witness)
            uow.commit()
        if witness.next_attempt_at > now:
            return None
        rows = uow.session.scalars(
            select(Checkpoint)
            .where(Checkpoint.seq > witness.delivered_seq)
            .order_by(Checkpoint.seq)
            .limit(BATCH)
        ).all()
        docs = [document(ctx, cp) for cp in rows]
        uow.session.expunge(witness)
    return witness, docs


def _update(ctx: Context, url: str, *, delivered: int | None, error: str | None) -> None:
    now = ctx.now()
    with ctx.uow() as uow:
        witness = uow.session.get(Witness, url)
        assert witness is not None
        if delivered is not None and delivered > witness.delivered_seq:
            witness.delivered_seq = delivered
        mark_attempt(witness, now, error)
        uow.commit()


def mark_attempt(row: Any, now: dt.datetime, error: str | None) -> None:
    """Note an attempt on a row with ``attempts``, ``last_error`` and ``next_attempt_at``: a
    success clears them, a failure waits 5 s, doubling with each failure in a row, at most
    ``MAX_BACKOFF``. Also used for the tree's witnesses (``cosigning``)."""
    if error is None:
        row.attempts, row.last_error, row.next_attempt_at = 0, None, now
    else:
        row.attempts += 1
        row.last_error = error[:2000]
        backoff = dt.timedelta(seconds=5 * 2 ** min(row.attempts - 1, 12))
        row.next_attempt_at = now + min(backoff, MAX_BACKOFF)


def deliver_checkpoints(ctx: Context) -> dict[str, int]:
    """Post undelivered checkpoints to every due witness; returns checkpoints delivered per URL."""
    counts: dict[str, int] = {}
    policy = outbound.Policy.from_config(ctx.config)
    for url in ctx.config.witness_urls:
        pending = _pending(ctx, url)
        if pending is None:
            continue
        _, docs = pending
        delivered: int | None = None
        error: str | None = None
        for doc in docs:
            try:
                _post(url, doc, policy)
            except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
                error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "witness %s did not take the checkpoint of seq %s: %s", url, doc["payload"]["seq"], error
                )
                break
            delivered = doc["payload"]["seq"]
            counts[url] = counts.get(url, 0) + 1
        if docs or error:
            _update(ctx, url, delivered=delivered, error=error)
    return counts


def status(ctx: Context) -> list[dict[str, Any]]:
    """Per configured witness: the last checkpoint it accepted and the last error."""
    with ctx.uow(write=False) as uow:
        rows = {w.url: w for w in uow.session.scalars(select(Witness))}
        return [
            {
                "url": url,
                "delivered_seq": rows[url].delivered_seq if url in rows else 0,
                "attempts": rows[url].attempts if url in rows else 0,
                "last_error": rows[url].last_error if url in rows else None,
            }
            for url in ctx.config.witness_urls
        ]
