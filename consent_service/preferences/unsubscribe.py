"""One-click unsubscribe (RFC 8058): the link a newsletter carries and the withdrawal it records.

Guarantees:
- ``link`` mints, for a subject and a purpose, the URL and the two headers a sender puts in the
  e-mail (``List-Unsubscribe: <url>``, ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``);
  the URL's token is signed (``tokens``, kind ``unsubscribe``), names the opaque subject id and
  the purpose (never the address) and does not expire;
- ``inspect`` only reads (a mail scanner fetching the link changes nothing);
- ``unsubscribe`` records one decision ``granted: false`` for the purpose (the ledger makes it
  ``withdrawn`` after a grant, else ``denied``) with channel ``email``, method ``custom`` and the
  way it came (``page`` or ``one_click``) as proof. It is idempotent: when the subject's latest
  decision on the purpose is already a refusal it records nothing and says so; the check runs
  under the ledger's head lock, so two clicks at once record one withdrawal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.errors import Conflict, Gone, NotFound
from consent_service.ledger import service as ledger
from consent_service.ledger.models import LedgerEvent
from consent_service.preferences import tokens
from consent_service.registry.models import Purpose, PurposeVersion
from consent_service.subjects import service as subjects
from consent_service.subjects.models import Subject

PATH = "/privacy/unsubscribe"
ONE_CLICK = "List-Unsubscribe=One-Click"
REFUSALS = ("denied", "withdrawn")


@dataclass(frozen=True)
class Target:
    """What an unsubscribe link is for: the subject, the purpose, its title, whether it is done."""

    subject_id: str
    purpose: str
    titles: dict[str, str]
    done: bool


class AlreadyDone(Exception):
    """The latest decision is already a refusal: nothing was recorded."""


def link(ctx: Context, subject_id: str, purpose_key: str) -> dict[str, Any]:
    """The unsubscribe URL and headers for one recipient of a mailing for ``purpose_key``."""
    token = tokens.make(ctx, "unsubscribe", [subject_id, purpose_key])
    url = f"{ctx.config.public_url.rstrip('/')}{PATH}?{urlencode({'token': token})}"
    return {"url": url, "headers": {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK}}


def _payload(ctx: Context, token: str) -> tuple[str, str]:
    try:
        payload = tokens.read(ctx, "unsubscribe", token, None)
    except (tokens.TokenExpired, tokens.TokenInvalid) as exc:
        raise NotFound("the unsubscribe link is not valid", extra={"reason": "invalid"}) from exc
    if len(payload) != 2 or not all(isinstance(p, str) for p in payload):
        raise NotFound("the unsubscribe link is not valid", extra={"reason": "invalid"})
    return payload[0], payload[1]


def _latest(session: Session, subject_id: str, purpose_key: str) -> str | None:
    """The latest decision on the purpose across the subject's linked group."""
    root = subjects.root_of(session, subject_id)
    return session.scalars(
        select(LedgerEvent.decision)
        .join(Subject, Subject.id == LedgerEvent.subject_id)
        .where(
            Subject.root_id == root,
            LedgerEvent.kind == "consent",
            LedgerEvent.target_type == "purpose",
            LedgerEvent.target_key == purpose_key,
        )
        .order_by(LedgerEvent.seq.desc())
        .limit(1)
    ).first()


def inspect(ctx: Context, token: str) -> Target:
    """What the link of ``token`` unsubscribes from, and whether that is done; writes nothing.

    NotFound for a forged or cut token (or a purpose no longer registered), Gone when the
    subject was erased."""
    subject_id, purpose_key = _payload(ctx, token)
    with ctx.uow(write=False) as uow:
        session = uow.session
        purpose = session.get(Purpose, purpose_key)
        if purpose is None or session.get(Subject, subject_id) is None:
            raise NotFound("the unsubscribe link is not valid", extra={"reason": "invalid"})
        if subjects.data_key(session, ctx.crypto, subject_id) is None:
            raise Gone("the person's data was erased", extra={"reason": "erased"})
        version = session.get(PurposeVersion, (purpose_key, purpose.current_version))
        assert version is not None, "a purpose always has its current version"
        done = _latest(session, subject_id, purpose_key) in REFUSALS
        return Target(subject_id, purpose_key, dict(version.titles or {}), done)


def unsubscribe(
    ctx: Context, token: str, *, way: str, ip: str | None = None, user_agent: str | None = None
) -> bool:
    """Withdraw the consent the link of ``token`` names; True when recorded now, False when it was
    done already. ``way`` is ``page`` (the button) or ``one_click`` (RFC 8058, from the mail
    client). NotFound / Gone as ``inspect``."""
    target = inspect(ctx, token)
    if target.done:
        return False

    def once(session: Session, subject_id: str, rows: list[dict[str, Any]]) -> None:
        # under the head lock: the decision before this one, which a concurrent click may have made
        before = session.scalars(
            select(LedgerEvent.decision)
            .join(Subject, Subject.id == LedgerEvent.subject_id)
            .where(
                Subject.root_id == subjects.root_of(session, subject_id),
                LedgerEvent.kind == "consent",
                LedgerEvent.target_type == "purpose",
                LedgerEvent.target_key == target.purpose,
                LedgerEvent.seq < rows[0]["seq"],
            )
            .order_by(LedgerEvent.seq.desc())
            .limit(1)
        ).first()
        if before in REFUSALS:
            raise AlreadyDone

    proof: dict[str, Any] = {"unsubscribe": way}
    if ip:
        proof["ip"] = ip
    if user_agent:
        proof["user_agent"] = user_agent[:512]
    try:
        ledger.record_consent(
            ctx,
            ledger.RecordConsent(
                decisions=[ledger.DecisionInput("purpose", target.purpose, False)],
                channel="email",
                method="custom",
                actor_type="subject",
                actor_id=target.subject_id,
                subject_id=target.subject_id,
                collection_point="unsubscribe_link",
                proof=proof,
                within=once,
            ),
        )
    except AlreadyDone:
        return False
    except Conflict as exc:  # erased between the look and the write
        raise Gone("the person's data was erased", extra={"reason": "erased"}) from exc
    return True
