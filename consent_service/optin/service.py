"""Double opt-in: the one place its rules live (the API, the public page and the CLI call these).

Guarantees:
- ``record_consent`` records like ``ledger.service.record_consent``; a grant the ledger records
  as ``pending`` (a double opt-in purpose, an e-mail subject) gets a confirmation link and its
  e-mail in the same transaction: the pending event is never saved without its e-mail, nor the
  e-mail sent for a grant that was not saved;
- a link's token is 32 random bytes shown only in the e-mail; the database keeps its SHA-256;
- ``confirm`` works once per link: it records the effective grant as a new ledger event that
  follows from the pending one (``related_event_id``), with the confirmation time, the truncated
  IP and the user agent as its proof, and marks the link used in the same transaction (a second
  confirmation, even a concurrent one, is refused and writes nothing);
- ``resend`` sends a new link for a pending grant at most once per ``CONSENT_OPTIN_RESEND_INTERVAL``
  per address, counting the e-mails of every purpose (the old link stops working);
- ``purge`` deletes links never confirmed once ``CONSENT_OPTIN_RETENTION`` has passed since
  their e-mail; the pending event stays in the ledger (it is append-only) and keeps denying.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from consent_service import onetime
from consent_service.context import Context
from consent_service.crypto.envelope import field_aad, open_sealed, seal
from consent_service.durations import add_duration, parse_duration
from consent_service.errors import Conflict, Gone, NotFound, RateLimited
from consent_service.ledger import service as ledger
from consent_service.ledger.models import LedgerEvent
from consent_service.optin import mail
from consent_service.optin.models import OptinLink
from consent_service.registry.models import Purpose, PurposeVersion
from consent_service.subjects import service as subjects

CONFIRM_PATH = "/privacy/confirm"


def link_url(ctx: Context, token: str) -> str:
    """The confirmation page of ``token`` under ``CONSENT_PUBLIC_URL``."""
    return f"{ctx.config.public_url.rstrip('/')}{CONFIRM_PATH}?token={token}"


def _purpose_texts(session: Session, purpose_key: str, language: str) -> tuple[str, str]:
    purpose = session.get(Purpose, purpose_key)
    assert purpose is not None, "a pending event names a registered purpose"
    version = session.get(PurposeVersion, (purpose_key, purpose.current_version))
    assert version is not None, "a purpose always has its current version"
    return mail.text_in(version.titles, language), mail.text_in(version.descriptions, language)


def _issue(
    ctx: Context,
    session: Session,
    *,
    subject_id: str,
    key: bytes,
    address: str,
    pending_event_id: str,
    purpose_key: str,
    language: str,
    now: dt.datetime,
    resend_count: int = 0,
) -> OptinLink:
    """A new link for a pending grant and its e-mail, in the caller's transaction."""
    token = onetime.new_secret()
    link_id = str(uuid.uuid4())
    expires = add_duration(now, ctx.config.optin_link_validity)
    link = OptinLink(
        id=link_id,
        token_hash=onetime.secret_hash(token),
        pending_event_id=pending_event_id,
        subject_id=subject_id,
        purpose_key=purpose_key,
        language=language,
        address_ct=seal(key, address.encode(), field_aad(subject_id, "optin_links", "address", link_id)),
        created_at=now,
        expires_at=expires,
        used_at=None,
        confirmed_event_id=None,
        resend_count=resend_count,
        resent_at=now if resend_count else None,
    )
    session.add(link)
    title, text = _purpose_texts(session, purpose_key, language)
    mail.enqueue(
        session,
        ctx.config,
        subject_id=subject_id,
        key=key,
        to=address,
        language=language,
        now=now,
        purpose_title=title,
        purpose_text=text,
        link=link_url(ctx, token),
        expires=expires,
        retention_days=(add_duration(now, ctx.config.optin_retention) - now).days,
    )
    return link


def record_consent(ctx: Context, cmd: ledger.RecordConsent) -> ledger.Recorded:
    """Record ``cmd`` in the ledger; each pending grant gets its link and e-mail with it."""
    address = cmd.subject.value if cmd.subject is not None and cmd.subject.type == "email" else None
    language = mail.best_language(cmd.language, ctx.config.default_language)

    def start(session: Session, subject_id: str, rows: list[dict[str, Any]]) -> None:
        pending = [r for r in rows if r["decision"] == "pending"]
        if not pending:
            return
        assert address is not None, "only a grant for an e-mail address is recorded as pending"
        key = subjects.data_key(session, ctx.crypto, subject_id)
        assert key is not None, "the ledger refuses an erased subject before this"
        for row in pending:
            _issue(
                ctx,
                session,
                subject_id=subject_id,
                key=key,
                address=address,
                pending_event_id=row["id"],
                purpose_key=row["purpose_key"],
                language=language,
                now=row["recorded_at"],
            )

    cmd.within = start
    return ledger.record_consent(ctx, cmd)


@dataclass(frozen=True)
class LinkState:
    """What a confirmation page shows for a token: ``open`` (can be confirmed), ``used`` (was
    confirmed or replaced by a newer e-mail), ``expired``, or ``unknown`` (no such link, or purged)."""

    state: str
    language: str
    purpose_title: str = ""
    purpose_text: str = ""
    expires_at: dt.datetime | None = None
    confirmed: bool = False


def inspect(ctx: Context, token: str) -> LinkState:
    """What the link of ``token`` can do now, in the person's language. Writes nothing."""
    with ctx.uow(write=False) as uow:
        link = onetime.find(uow.session, OptinLink, token)
        if link is None:
            return LinkState("unknown", ctx.config.default_language)
        title, text = _purpose_texts(uow.session, link.purpose_key, link.language)
        return LinkState(
            onetime.state(link, ctx.now()),
            link.language,
            title,
            text,
            link.expires_at,
            link.confirmed_event_id is not None,
        )


def confirm(ctx: Context, token: str, *, ip: str | None, user_agent: str | None) -> ledger.Recorded:
    """Record the effective grant the link of ``token`` confirms (once).

    NotFound for an unknown token, Gone (reason ``expired`` or ``used``) when it cannot confirm."""
    with ctx.uow(write=False) as uow:
        link = onetime.find(uow.session, OptinLink, token)
        if link is None:
            raise NotFound("no such confirmation link", extra={"reason": "unknown"})
        state = onetime.state(link, ctx.now())
        if state != "open":
            raise Gone(f"the confirmation link is {state}", extra={"reason": state})
        link_id, subject_id, purpose_key = link.id, link.subject_id, link.purpose_key
        pending_event_id, language = link.pending_event_id, link.language
        pending = uow.session.scalars(select(LedgerEvent).where(LedgerEvent.id == pending_event_id)).one()
        channel, collection_point = pending.channel or "email", pending.collection_point

    def mark_used(session: Session, _subject: str, rows: list[dict[str, Any]]) -> None:
        # of two confirmations racing, the second changes no row and rolls back
        if not onetime.use(
            session, OptinLink, link_id, rows[0]["recorded_at"], confirmed_event_id=rows[0]["id"]
        ):
            raise Gone("the confirmation link is used", extra={"reason": "used"})

    proof: dict[str, Any] = {"confirmed_at": ctx.now().isoformat(), "confirmation_of": pending_event_id}
    if ip:
        proof["ip"] = ip
    if user_agent:
        proof["user_agent"] = user_agent[:512]
    return ledger.record_consent(
        ctx,
        ledger.RecordConsent(
            decisions=[ledger.DecisionInput("purpose", purpose_key, True)],
            channel=channel,
            method="api",
            actor_type="subject",
            actor_id=subject_id,
            subject_id=subject_id,
            collection_point=collection_point,
            language=language,
            proof=proof,
            related_event_id=pending_event_id,
            within=mark_used,
        ),
    )


def resend(ctx: Context, token: str) -> dt.datetime:
    """A new confirmation e-mail for the grant the link of ``token`` is pending for; when its link
    expires. The old link stops working. RateLimited within ``CONSENT_OPTIN_RESEND_INTERVAL`` of
    the last confirmation e-mail to this address, for whichever purpose; Conflict once confirmed
    or no longer pending."""
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.now()
        link = onetime.find(session, OptinLink, token, lock=True)
        if link is None:
            raise NotFound("no such confirmation link", extra={"reason": "unknown"})
        if link.confirmed_event_id is not None:
            raise Conflict("this grant was confirmed already", extra={"reason": "confirmed"})
        # the subject is the address (an e-mail subject): its newest e-mail for any purpose
        last_sent = session.scalars(
            select(OptinLink.created_at)
            .where(OptinLink.subject_id == link.subject_id)
            .order_by(OptinLink.created_at.desc())
            .limit(1)
        ).one()
        resent = session.scalars(
            select(OptinLink.resend_count)
            .where(OptinLink.pending_event_id == link.pending_event_id)
            .order_by(OptinLink.resend_count.desc())
            .limit(1)
        ).one()
        wait_until = add_duration(last_sent, ctx.config.optin_resend_interval)
        if now < wait_until:
            raise RateLimited(
                "a confirmation e-mail was sent to this address a moment ago",
                retry_after=max(1, int((wait_until - now).total_seconds())),
            )
        if not _still_pending(session, link):
            raise Conflict("the grant is no longer waiting for confirmation", extra={"reason": "decided"})
        key = subjects.data_key(session, ctx.crypto, link.subject_id)
        if key is None:
            raise Gone("the person's data was erased", extra={"reason": "erased"})
        address = open_sealed(
            key, link.address_ct, field_aad(link.subject_id, "optin_links", "address", link.id)
        ).decode()
        session.execute(
            update(OptinLink)
            .where(OptinLink.pending_event_id == link.pending_event_id, OptinLink.used_at.is_(None))
            .values(used_at=now)
        )
        new = _issue(
            ctx,
            session,
            subject_id=link.subject_id,
            key=key,
            address=address,
            pending_event_id=link.pending_event_id,
            purpose_key=link.purpose_key,
            language=link.language,
            now=now,
            resend_count=resent + 1,
        )
        expires = new.expires_at
        uow.commit()
    return expires


def _still_pending(session: Session, link: OptinLink) -> bool:
    """Whether the subject's latest decision on the purpose is still this pending grant."""
    latest = session.scalars(
        select(LedgerEvent.id)
        .where(
            LedgerEvent.subject_id == link.subject_id,
            LedgerEvent.kind == "consent",
            LedgerEvent.target_type == "purpose",
            LedgerEvent.target_key == link.purpose_key,
        )
        .order_by(LedgerEvent.seq.desc())
        .limit(1)
    ).first()
    return latest == link.pending_event_id


def purge(ctx: Context) -> int:
    """Delete links never confirmed whose e-mail is older than ``CONSENT_OPTIN_RETENTION``."""
    with ctx.uow() as uow:
        now = ctx.now()
        cutoff = now - parse_duration(ctx.config.optin_retention)
        result = uow.session.execute(
            delete(OptinLink).where(OptinLink.confirmed_event_id.is_(None), OptinLink.created_at < cutoff)
        )
        uow.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
