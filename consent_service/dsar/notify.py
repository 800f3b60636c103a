"""Telling the person: which addresses a request's messages go to, and the outbox entries.

``tell`` renders a message (``messages``) and writes it to the outbox for each address in the
caller's transaction, so the message exists exactly when the transition that caused it was
committed; the caller delivers after commit. Each message is recorded in the request's audit
trail (``message_queued``: message id, kind, language, masked address), so the request's file
shows what the person was told and the outbox state of each message (``sent_messages``).

Who receives it: the request's e-mail identities that are verified (by code, by the DPO, or
linked to a verified one). While the request was never verified (a refusal for want of
identity, an extension before the code came back) the addresses the requester gave are used:
these messages name only the request, its dates and what the DPO wrote for the person.
A request without any e-mail address (a paper request the DPO verified) gets no e-mail: the
audit trail says ``person_not_told`` — "no e-mail address to tell the person; tell them by
post" — so the DPO knows to write a letter.

The verification code is the exception: it goes to each unverified address with that address's
own code (``requests.open_request``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from consent_service.auditlog import service as auditlog
from consent_service.context import Context
from consent_service.dsar import messages, outbox, verified
from consent_service.dsar.request_models import DsarRequest
from consent_service.subjects import service as subjects

NOT_TOLD = "no e-mail address to tell the person; tell them by post"
UNREADABLE = "the person's addresses can no longer be read (erased); tell them by post if you can"


def addresses(ctx: Context, session: Session, request: DsarRequest) -> list[str] | None:
    """The e-mail addresses the request's messages go to (see the module docstring); None once
    the identities can no longer be read (shredded, or past their retention)."""
    entries = verified.request_identities(ctx, session, request)
    if entries is None:
        return None
    emails = [
        (e["value"], state)
        for e, state in zip(entries, verified.states(session, ctx.crypto, entries), strict=True)
        if e["type"] == "email"
    ]
    chosen = [value for value, state in emails if state != verified.PENDING]
    if not chosen and request.verified_at is None:
        chosen = [value for value, _ in emails]
    return list(dict.fromkeys(chosen))


def tell(
    ctx: Context,
    session: Session,
    request: DsarRequest,
    kind: str,
    *,
    actor: str,
    to: Sequence[str] | None = None,
    **values: Any,
) -> list[str]:
    """Enqueue message ``kind`` to the person (``to``, default ``addresses``); its outbox ids.

    After a shredding (an erasure's confirmation) the message is sealed under a service key
    (``outbox``); ``to`` must then have been read before the shredding."""
    now = ctx.now()
    found = addresses(ctx, session, request) if to is None else to
    recipients = list(dict.fromkeys(found or []))
    where = f"dsar:{request.id}"
    if not recipients:
        why = UNREADABLE if found is None else NOT_TOLD
        auditlog.append(
            session, where, actor=actor, action="person_not_told",
            details={"message": kind, "why": why}, now=now, subject_id=request.subject_id,
        )  # fmt: skip
        return []
    message = messages.render(
        kind, request.language, ctx.config, request_id=request.id, type=request.type, **values
    )
    key = subjects.data_key(session, ctx.crypto, request.subject_id)
    ids = []
    for address in recipients:
        message_id = outbox.enqueue_email(
            session,
            subject_id=request.subject_id,
            key=key,
            to=address,
            title=message.title,
            body=message.body,
            now=now,
            language=message.language,
            topic=kind,
            crypto=ctx.crypto,
        )
        auditlog.append(
            session, where, actor=actor, action="message_queued",
            details={"message": message_id, "kind": kind, "language": message.language,
                     "to": verified.masked(address)},
            now=now, subject_id=request.subject_id,
        )  # fmt: skip
        ids.append(message_id)
    return ids


def sent_messages(session: Session, trail: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the person was told, from the audit trail, with each message's outbox state
    (``deleted`` once ``CONSENT_OUTBOX_RETENTION`` removed it)."""
    queued = [e for e in trail if e["action"] in ("message_queued", "person_not_told")]
    found = outbox.states(
        session, [e["details"]["message"] for e in queued if e["action"] == "message_queued"]
    )
    return [
        {
            "id": e["details"]["message"],
            "kind": e["details"]["kind"],
            "language": e["details"]["language"],
            "to": e["details"]["to"],
            "state": found.get(e["details"]["message"], "deleted"),
            "queued_at": e["recorded_at"],
        }
        if e["action"] == "message_queued"
        else {
            "id": None,
            "kind": e["details"]["message"],
            "language": None,
            "to": None,
            "state": "not_sent",
            "note": e["details"]["why"],
            "queued_at": e["recorded_at"],
        }
        for e in queued
    ]
