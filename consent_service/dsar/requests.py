"""The lifecycle of data subject requests (GDPR Art. 12-22).

States: received → identity_pending → verified → in_progress → completed | rejected | failed.
Every transition is appended, with who, when and why, to the request's own hash-chained audit
log (``dsar:<request id>``). Deadlines count months from receipt as Regulation 1182/71 does, in
the controller's calendar (``CONSENT_HOLIDAYS``, ``CONSENT_TIMEZONE``; see ``deadlines``). A request
that came by post or e-mail is entered with its real ``received_at`` (past, never future); the audit
trail records that it was entered by hand.
Restriction (Art. 18) and objection (Art. 21) take effect in the processing gate as soon as the
request is verified; an objection to a direct-marketing purpose is absolute (Art. 21(3)).
Access, erasure, rectification and portability wait in ``verified`` for execution across the
registered stores; once the verification is committed they are handed to the scheduler wired
into the context (``ctx.caches[SCHEDULER]``, set by ``consent_service.jobs.install``), if any.
Every transition the person must hear of enqueues its message in the same transaction
(``notify``; the texts are in ``messages``), delivered after commit. Refusals are ``refusal``;
lifting a restriction or objection is ``limits``.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service import calendars
from consent_service.auditlog import notes
from consent_service.auditlog import service as auditlog
from consent_service.context import Context
from consent_service.crypto.envelope import field_aad, seal
from consent_service.dsar import codes, deadlines, limits, messages, notify, outbox, recipients, verified
from consent_service.dsar.repeats import repeats
from consent_service.dsar.request_models import DsarRequest, DsarVerification
from consent_service.errors import Conflict, Gone, InvalidInput, NotFound, refused
from consent_service.registry.models import Purpose
from consent_service.subjects import identity_types
from consent_service.subjects import service as subjects
from consent_service.subjects.service import IDENTITY_TYPES, IdentityRef

TYPES = ("access", "erasure", "rectification", "restriction", "objection", "portability")
OPEN_STATES = ("received", "identity_pending", "verified", "in_progress", "failed")
CLOSED_STATES = ("completed", "rejected")
EXECUTED = ("access", "erasure", "rectification", "portability")  # run across the stores
# What ``show`` gives for the identities once the requester's contact data passed its retention.
CONTACT_PURGED = "[purged]"
SCHEDULER = "dsar.scheduler"  # ctx.caches key: Callable[[Context, str], None] that enqueues a run
MESSAGE_MAX = 2000  # characters of the person's own message
EARLIEST_RECEIPT = dt.datetime(2018, 5, 25, tzinfo=dt.UTC)  # the GDPR applies from this day


def _schedule(ctx: Context, out: dict[str, Any]) -> None:
    """After commit: hand a verified request that runs across the stores to the task queue."""
    scheduler = ctx.caches.get(SCHEDULER)
    if scheduler is not None and out["state"] == "verified" and out["type"] in EXECUTED:
        scheduler(ctx, out["id"])


@dataclass
class OpenRequest:
    type: str
    identities: Sequence[IdentityRef]
    verification: dict[str, str]
    purposes: Sequence[str] = field(default_factory=list)
    changes: dict[str, Any] = field(default_factory=dict)
    received_at: dt.datetime | None = None  # when it arrived by post or e-mail; None = now
    language: str | None = None  # BCP 47 tag the person wrote in; None = CONSENT_DEFAULT_LANGUAGE
    portal: bool = False  # made in the public portal: the code e-mail names the request's page there
    message: str | None = None  # what the person wrote with the request (kept sealed in the audit trail)


def calendar_of(ctx: Context) -> calendars.Calendar:
    return calendars.calendar(ctx.config.holidays, ctx.config.timezone)


def log_event(
    session: Session,
    request_id: str,
    actor: str,
    action: str,
    details: dict[str, Any],
    now: dt.datetime,
    subject_id: str,
) -> None:
    auditlog.append(
        session,
        f"dsar:{request_id}",
        actor=actor,
        action=action,
        details=details,
        now=now,
        subject_id=subject_id,
    )


def transition(
    session: Session,
    request: DsarRequest,
    to: str,
    actor: str,
    why: str,
    now: dt.datetime,
    *,
    note: str | None = None,
) -> None:
    """Move the request to ``to``; ``why`` is a fixed, non-personal phrase, ``note`` a sealed one."""
    details: dict[str, Any] = {"from": request.state, "to": to, "why": why}
    if note is not None:
        details["note"] = note
    log_event(session, request.id, actor, "transition", details, now, request.subject_id)
    request.state = to
    request.updated_at = now
    if to in CLOSED_STATES:
        request.closed_at = now


def sealed_note(ctx: Context, session: Session, request: DsarRequest, text: str) -> str:
    """A DPO's free text about this request, sealed under the subject's key (``auditlog.notes``)."""
    key = subjects.data_key(session, ctx.crypto, request.subject_id)
    return notes.seal_note(key, text, subject_id=request.subject_id, where=f"dsar:{request.id}")


def _validate(session: Session, cmd: OpenRequest, now: dt.datetime) -> None:
    errors: dict[str, list[str]] = {}
    if cmd.received_at is not None:
        if cmd.received_at.tzinfo is None:
            errors["received_at"] = ["give a date and time with its UTC offset"]
        elif cmd.received_at > now:
            errors["received_at"] = ["a request cannot be received in the future"]
        elif cmd.received_at < EARLIEST_RECEIPT:
            errors["received_at"] = [f"not before {EARLIEST_RECEIPT:%Y-%m-%d}, when the GDPR began to apply"]
    references: set[tuple[str, str]] = set()
    if cmd.language is not None and not (
        len(cmd.language) <= 16 and messages.LANGUAGE_TAG.match(cmd.language)
    ):
        errors["language"] = ["a language tag such as de, en or de-AT"]
    if cmd.type not in TYPES:
        errors["type"] = [f"one of {', '.join(TYPES)}"]
    if not cmd.identities:
        errors["identities"] = ["give at least one identity"]
    method = cmd.verification.get("method")
    if method not in ("email", "dpo"):
        errors["verification"] = ["method 'email' or 'dpo'"]
    elif method == "dpo" and not (cmd.verification.get("note") or "").strip():
        errors["verification"] = ["a DPO verification needs a note"]
    elif method == "email" and not any(i.type == "email" for i in cmd.identities):
        errors["verification"] = ["e-mail verification needs an email identity"]
    if cmd.message is not None and len(cmd.message) > MESSAGE_MAX:
        errors["message"] = [f"at most {MESSAGE_MAX} characters"]
    if cmd.type == "objection" and not cmd.purposes:
        errors["purposes"] = ["name the purposes objected to"]
    if cmd.type == "rectification" and not cmd.changes:
        errors["changes"] = ["give the corrected values"]
    if cmd.purposes:
        known = set(session.scalars(select(Purpose.key).where(Purpose.key.in_(list(cmd.purposes)))))
        unknown = [p for p in cmd.purposes if p not in known]
        if unknown:
            errors["purposes"] = [f"unknown: {', '.join(unknown)}"]
            references = {("purposes", errors["purposes"][0])}
    if errors:
        raise refused("the request cannot be opened", errors, references)


def open_request(ctx: Context, cmd: OpenRequest, *, actor: str) -> dict[str, Any]:
    """Record a request; send the e-mail code, or take the DPO's verification at once."""
    message_ids: list[str] = []
    webhooks: list[str] = []
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.now()
        for identity in cmd.identities:
            if identity.type not in IDENTITY_TYPES:  # a registered type: known and allowed in requests
                identity_types.require_dsar_allowed(session, identity.type)
        # a registered type's value as its rule normalises it: stores are searched with the
        # value the CRM writes, however the request spelled it
        cmd = replace(cmd, identities=[subjects.checked(session, i) for i in cmd.identities])
        _validate(session, cmd, now)
        received_at = now if cmd.received_at is None else cmd.received_at.astimezone(dt.UTC)
        by_dpo = cmd.verification["method"] == "dpo"
        emails = [n for n, i in enumerate(cmd.identities) if i.type == "email"]
        # by code, the request's subject is the first address's: only a code sent to it (or to
        # an address linked to it) verifies the request, so nobody acts on another's subject
        subject_id = (
            next((s for s in (subjects.resolve(session, ctx.crypto, i) for i in cmd.identities) if s), None)
            if by_dpo
            else None
        )
        if subject_id is None:
            first = cmd.identities[0 if by_dpo else emails[0]]
            subject_id, _ = subjects.get_or_create(session, ctx.crypto, first, now)
        key = subjects.data_key(session, ctx.crypto, subject_id)
        if key is None:
            raise Gone("this person's data has already been erased", extra={"reason": "erased"})
        request_id = "req_" + secrets.token_hex(8)
        entries = [
            {"type": i.type, "value": i.value, "verified": verified.BY_DPO if by_dpo else None}
            for i in cmd.identities
        ]
        identities = json.dumps(entries).encode()
        changes = json.dumps(cmd.changes).encode() if cmd.changes else None
        due = deadlines.due_at(received_at, cal=calendar_of(ctx))
        request = DsarRequest(
            id=request_id,
            type=cmd.type,
            state="received",
            subject_id=subject_id,
            identities_ct=seal(
                key, identities, field_aad(subject_id, "dsar_requests", "identities", request_id)
            ),
            changes_ct=seal(key, changes, field_aad(subject_id, "dsar_requests", "changes", request_id))
            if changes
            else None,
            purposes=list(cmd.purposes),
            verification_method=cmd.verification["method"],
            received_at=received_at,
            original_due_at=due,
            due_at=due,
            extension_months=0,
            updated_at=now,
            language=cmd.language or ctx.config.default_language,
        )
        session.add(request)
        session.flush()
        log_event(
            session,
            request_id,
            actor,
            "received",
            {"type": cmd.type, "purposes": list(cmd.purposes)}
            | ({"received_at": received_at.isoformat(), "entered_by_hand": True} if cmd.received_at else {}),
            now,
            subject_id,
        )
        if cmd.message and cmd.message.strip():
            note = sealed_note(ctx, session, request, cmd.message.strip())
            log_event(session, request_id, actor, "person_message", {"note": note}, now, subject_id)
        told = notify.tell(
            ctx, session, request, "received", actor=actor,
            received=received_at, due=due, next="verified" if by_dpo else "code",
        )  # fmt: skip
        if by_dpo:
            note = sealed_note(ctx, session, request, cmd.verification["note"])
            webhooks = _verified(ctx, session, request, actor, "verified by the DPO", now, note=note)
        else:
            message_ids = codes.send(ctx, session, request, entries, actor=actor, portal=cmd.portal, now=now)
            verified.reseal_identities(ctx, session, request, entries)
            why = f"verification code sent to each of {len(message_ids)} e-mail address(es)"
            transition(session, request, "identity_pending", actor, why, now)
        out = summary(request) | {
            "repeats": repeats(session, ctx.config.repeat_window, [request])[request_id]
        }
        uow.commit()
    outbox.deliver(ctx, only=told + message_ids + webhooks)
    _schedule(ctx, out)
    return out


def _verified(
    ctx: Context,
    session: Session,
    request: DsarRequest,
    actor: str,
    why: str,
    now: dt.datetime,
    *,
    note: str | None = None,
) -> list[str]:
    """Mark verified; restrictions and objections take effect (and the person is told).
    Returns the outbox ids to deliver after commit (webhooks and messages)."""
    transition(session, request, "verified", actor, why, now, note=note)
    request.verified_at = now
    if request.type not in ("restriction", "objection"):
        return []
    transition(session, request, "in_progress", actor, "applying to the processing gate", now)
    limits.apply(session, request, now)
    transition(session, request, "completed", actor, f"{request.type} in force", now)
    purposes = request.purposes or ["*"]
    if request.type == "objection":
        return notify.tell(ctx, session, request, "objection_in_force", actor=actor, purposes=purposes)
    return notify.tell(
        ctx, session, request, "restriction_applied", actor=actor, purposes=purposes
    ) + recipients.enqueue_webhooks(session, "restriction", request, now, action="applied", purposes=purposes)


def load_request(session: Session, request_id: str) -> DsarRequest:
    request = session.get(DsarRequest, request_id)
    if request is None:
        raise NotFound(f"request {request_id!r} does not exist")
    return request


def verify(
    ctx: Context,
    request_id: str,
    *,
    code: str | None,
    dpo_note: str | None,
    actor: str,
    identities: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Verify identities of the request: by the e-mailed code, or by a DPO with a note.

    A code verifies the address it was sent to; the request is verified once that address is
    the request's subject's (or linked to it); otherwise it waits for another code or the DPO.
    A DPO note verifies the identities at ``identities`` (positions; default all) and the
    request. A run acts only on verified identities (``verified.usable``)."""
    webhooks: list[str] = []
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.now()
        request = load_request(session, request_id)
        if request.state not in ("received", "identity_pending"):
            raise Conflict(f"the request is {request.state}; only unverified requests can be verified")
        entries = verified.request_identities(ctx, session, request)
        if entries is None:
            raise Conflict("the request's identities can no longer be read; reject it instead")
        if dpo_note is not None:
            if not dpo_note.strip():
                raise InvalidInput("a DPO verification needs a note", errors={"note": ["required"]})
            marked = verified.mark(entries, verified.dpo_positions(entries, identities), verified.BY_DPO)
            verified.reseal_identities(ctx, session, request, entries)
            log_event(
                session, request_id, actor, "identities_verified",
                {"by": verified.BY_DPO, "positions": marked}, now, request.subject_id,
            )  # fmt: skip
            note = sealed_note(ctx, session, request, dpo_note)
            webhooks = _verified(ctx, session, request, actor, "verified by the DPO", now, note=note)
        else:
            check = session.get(DsarVerification, request_id)
            if check is None:
                raise Conflict("no code was sent for this request; a DPO must verify it")
            if check.attempts >= check.max_attempts:
                raise Conflict("too many wrong codes; a DPO must verify this request")
            if now > check.expires_at:
                raise Conflict("the code has expired; ask for a new one, or a DPO verifies the request")
            positions = verified.code_positions(ctx, request, entries, code) if code else []
            if not any("code" in e for e in entries) and code:  # stored before per-address codes
                if not hmac.compare_digest(check.code_hash, codes.legacy_hash(ctx, request_id, code)):
                    positions = []
            if not positions:
                check.attempts += 1
                log_event(
                    session,
                    request_id,
                    actor,
                    "wrong_code",
                    {"attempt": check.attempts},
                    now,
                    request.subject_id,
                )
                uow.commit()
                left = check.max_attempts - check.attempts
                raise InvalidInput("wrong code", errors={"code": [f"wrong code; {left} attempt(s) left"]})
            verified.mark(entries, positions, verified.BY_CODE)
            verified.reseal_identities(ctx, session, request, entries)
            log_event(
                session, request_id, actor, "identities_verified",
                {"by": verified.BY_CODE, "positions": positions}, now, request.subject_id,
            )  # fmt: skip
            if any(
                verified.in_subject_group(session, ctx.crypto, entries[n], request.subject_id)
                for n in positions
            ):
                webhooks = _verified(ctx, session, request, actor, "e-mail code confirmed", now)
        out = summary(request)
        uow.commit()
    if webhooks:
        outbox.deliver(ctx, only=webhooks)
    _schedule(ctx, out)
    return out


def resend_code(
    ctx: Context,
    request_id: str,
    *,
    actor: str,
    portal: bool = False,
    admit: Callable[[list[str]], None] | None = None,
) -> dict[str, Any]:
    """New e-mail codes for a request verified by code, whose code expired or was lost
    (``codes.send``): the earlier ones stop working; wrong codes keep counting towards the same
    lock-out. NotFound for an unknown request; Conflict when no code was sent (a DPO verified
    it), the request is closed, locked by wrong codes, or its identities can no longer be read.
    ``admit`` sees the request's e-mail addresses before anything is written and may refuse by
    raising (the portal's limits per address). Returns the request as ``summary``."""
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.now()
        request = load_request(session, request_id)
        check = session.get(DsarVerification, request_id)
        if check is None:
            raise Conflict("no code was sent for this request; a DPO verified it")
        if request.state not in OPEN_STATES:
            raise Conflict(f"the request is {request.state}; its e-mails tell what happened")
        if check.attempts >= check.max_attempts:
            raise Conflict("too many wrong codes; a DPO must verify this request")
        entries = verified.request_identities(ctx, session, request)
        if entries is None:
            raise Conflict("the request's identities can no longer be read")
        if admit is not None:
            admit([e["value"] for e in entries if e["type"] == "email"])
        message_ids = codes.send(ctx, session, request, entries, actor=actor, portal=portal, now=now)
        verified.reseal_identities(ctx, session, request, entries)
        log_event(
            session,
            request_id,
            actor,
            "code_resent",
            {"addresses": len(message_ids)},
            now,
            request.subject_id,
        )
        out = summary(request)
        uow.commit()
    outbox.deliver(ctx, only=message_ids)
    return out


def summary(request: DsarRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "type": request.type,
        "state": request.state,
        "subject_id": request.subject_id,
        "purposes": request.purposes,
        "verification_method": request.verification_method,
        "received_at": request.received_at,
        "due_at": request.due_at,
        "original_due_at": request.original_due_at,
        "extension_months": request.extension_months,
        "verified_at": request.verified_at,
        "closed_at": request.closed_at,
        "failure_reason": request.failure_reason,
        "language": request.language,
        "refusal_ground": request.refusal_ground,
    }
