"""Recipients of personal data (GDPR Art. 19): who must be told of erasures, rectifications
and restrictions, and the signed webhooks that tell them.

A recipient is a name, an HTTPS (or HTTP) endpoint, a shared secret, the events it follows
(erasure, rectification, restriction, and ``consent``: changes of consent, see ``consent_hooks``) and where it is: its country and, outside the EEA, the
safeguard of the transfer (``transfers``: a third country without one is refused). The secret is sealed like a store connection
(``store_secrets``, associated data ``recipient:<key>``) and never returned.

``enqueue_webhooks`` writes one outbox message of kind ``webhook`` per subscribed recipient in
the caller's transaction. Its payload is stored in plaintext: it holds ids, the event, times and
(for rectification) the names of the changed fields, never a value, so it stays deliverable
after the subject is crypto-shredded. ``send_webhook`` POSTs it as JSON signed exactly like
requests to HTTP stores (``X-Consent-Timestamp``, ``X-Consent-Signature``; ``post_signed``, which
the consent webhooks share). The endpoint passes ``consent_service.outbound`` at registration and
again when the webhook connects.

A recipient that starts following ``consent`` gets a cursor (``ConsentCursor``) at the ledger's
newest event, or at ``consent_after`` when given (0: the whole ledger); ``consent_after`` given
later moves the cursor (a replay); no longer following ``consent`` drops it.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
import urllib.request
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service import outbound
from consent_service.context import Context
from consent_service.db import columns_of
from consent_service.dsar import transfers
from consent_service.dsar.request_models import DsarRequest, OutboxMessage
from consent_service.dsar.task_models import ConsentCursor, Recipient
from consent_service.errors import Conflict, NotFound, refused
from consent_service.ledger.feed import head_seq
from consent_service.registry.sites import Recorder
from consent_service.stores.connectors.http import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from consent_service.stores.secrets import HIDDEN, open_connection, seal_connection

EVENTS = ("erasure", "rectification", "restriction", "consent")
REQUEST_EVENTS = EVENTS[:3]  # told per request through the outbox; "consent" from the ledger
TIMEOUT_S = 15.0


def _box_key(key: str) -> str:
    return f"recipient:{key}"


def recipient_dict(recipient: Recipient) -> dict[str, Any]:
    """The recipient as shown: its secret never."""
    out = columns_of(recipient, exclude=("secret_box", "secret_kek"))
    out["events"] = list(recipient.events)
    return out


def save_recipient(
    ctx: Context,
    key: str,
    doc: dict[str, Any],
    *,
    must_be_new: bool = False,
    record: Recorder | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create or replace a recipient; a secret sent as ``***`` keeps the stored one.
    ``must_be_new``: Conflict (reason ``exists``) instead of replacing a registered recipient;
    ``record``: who did it, in the same transaction (``registry.service.Recorder``)."""
    errors: dict[str, list[str]] = {}
    name, endpoint, secret = doc.get("name"), doc.get("endpoint"), doc.get("secret")
    events = doc.get("events")
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["required"]
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        errors["endpoint"] = ["an http:// or https:// URL is required"]
    elif problem := outbound.url_problem(ctx.config, endpoint):
        errors["endpoint"] = [problem]
    if not isinstance(events, list) or not events or any(e not in EVENTS for e in events):
        errors["events"] = [f"one or more of {', '.join(EVENTS)}"]
    country, safeguard = doc.get("country"), doc.get("safeguard")
    errors.update(transfers.problems(country, safeguard))
    consent_after = doc.get("consent_after")
    if consent_after is not None:
        if not isinstance(events, list) or "consent" not in events:
            errors["consent_after"] = ["only for a recipient following the event consent"]
        elif not isinstance(consent_after, int) or isinstance(consent_after, bool) or consent_after < 0:
            errors["consent_after"] = ["a ledger seq (0 or more)"]
    with ctx.uow() as uow:
        session = uow.session
        if "consent_after" not in errors and isinstance(consent_after, int):
            newest = head_seq(session)
            if consent_after > newest:
                errors["consent_after"] = [f"beyond the ledger's newest event ({newest})"]
        existing = session.get(Recipient, key)
        if must_be_new and existing is not None:
            raise Conflict(f"recipient {key!r} is already registered", extra={"reason": "exists"})
        if secret == HIDDEN and existing is not None:
            secret = open_connection(ctx.crypto, _box_key(key), existing.secret_box, existing.secret_kek)[
                "secret"
            ]
        references: set[tuple[str, str]] = set()
        if secret == HIDDEN:
            errors["secret"] = [f"{HIDDEN} keeps the stored secret, but recipient {key!r} has none"]
            references.add(("secret", errors["secret"][0]))
        elif not isinstance(secret, str) or len(secret) < 16:
            errors["secret"] = ["a shared secret of at least 16 characters is required"]
        if errors:
            raise refused("the recipient is not valid", errors, references)
        assert isinstance(events, list) and isinstance(name, str) and isinstance(endpoint, str)
        box, kek = seal_connection(ctx.crypto, _box_key(key), {"secret": secret})
        now = ctx.now()
        values = {
            "name": name.strip(),
            "endpoint": endpoint,
            "events": sorted(set(events)),
            "country": country,
            "safeguard": safeguard,
            "secret_box": box,
            "secret_kek": kek,
            "updated_at": now,
        }
        if existing is None:
            recipient = Recipient(key=key, created_at=now, **values)
            session.add(recipient)
        else:
            recipient = existing
            for field, value in values.items():
                setattr(recipient, field, value)
        session.flush()
        _keep_cursor(session, recipient, consent_after, now)
        out = recipient_dict(recipient)
        if record is not None:
            record(
                session, "recipient_created" if existing is None else "recipient_saved", {"recipient": key}
            )
        uow.commit()
    return out, existing is None


def _keep_cursor(session: Session, recipient: Recipient, after: int | None, now: dt.datetime) -> None:
    cursor = session.get(ConsentCursor, recipient.key)
    if "consent" not in recipient.events:
        if cursor is not None:
            session.delete(cursor)
        return
    if cursor is None:
        start = head_seq(session) if after is None else after  # no flood of history unless asked
        session.add(
            ConsentCursor(
                recipient_key=recipient.key, after_seq=start, attempts=0, next_attempt_at=now, created_at=now
            )
        )
    elif after is not None:
        cursor.after_seq, cursor.attempts, cursor.next_attempt_at = after, 0, now


def list_recipients(ctx: Context) -> list[dict[str, Any]]:
    with ctx.uow(write=False) as uow:
        return [recipient_dict(r) for r in uow.session.scalars(select(Recipient).order_by(Recipient.key))]


def enqueue_webhooks(
    session: Session, event: str, request: DsarRequest, now: dt.datetime, **details: Any
) -> list[str]:
    """One outbox message per recipient following ``event``, in the caller's transaction."""
    ids = []
    for recipient in session.scalars(select(Recipient).order_by(Recipient.key)):
        if event not in recipient.events:
            continue
        message_id = "msg_" + secrets.token_hex(8)
        body = {
            "event": event,
            "request_id": request.id,
            "subject_id": request.subject_id,
            "occurred_at": now.isoformat(),
            **details,
        }
        session.add(
            OutboxMessage(
                id=message_id,
                kind="webhook",
                subject_id=request.subject_id,
                payload_ct=json.dumps({"recipient": recipient.key, "body": body}).encode(),
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        ids.append(message_id)
    return ids


def send_webhook(ctx: Context, payload: dict[str, Any]) -> None:
    """POST one webhook, signed with the recipient's secret; raises OSError/RuntimeError on failure."""
    post_signed(ctx, payload["recipient"], payload["body"])


def post_signed(ctx: Context, key: str, document: dict[str, Any]) -> None:
    """POST ``document`` as JSON to recipient ``key``, signed with its secret; raises
    OSError/RuntimeError (a non-2xx answer is an HTTPError, an OSError) on failure."""
    with ctx.uow(write=False) as uow:
        recipient = uow.session.get(Recipient, key)
        if recipient is None:
            raise RuntimeError(f"recipient {key!r} no longer exists")
        endpoint = recipient.endpoint
        secret = open_connection(ctx.crypto, _box_key(key), recipient.secret_box, recipient.secret_kek)[
            "secret"
        ]
    body = json.dumps(document, separators=(",", ":")).encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        endpoint,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        },
    )
    policy = outbound.Policy.from_config(ctx.config)
    with outbound.urlopen(request, policy, TIMEOUT_S) as response:  # checked again at connect time
        response.read()


def get_recipient(ctx: Context, key: str) -> dict[str, Any]:
    with ctx.uow(write=False) as uow:
        recipient = uow.session.get(Recipient, key)
        if recipient is None:
            raise NotFound(f"no recipient {key!r}")
        return recipient_dict(recipient)
