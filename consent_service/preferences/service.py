"""The preference centre: sign-in by e-mail link, the person's choices, changes and receipts.

Guarantees:
- ``request_signin`` answers the same whether the address is known or not (it returns nothing);
  only a known, not erased subject gets an e-mail, written to the outbox in one transaction.
  It is limited per client IP (``SIGNIN_PER_IP`` a minute) and per normalised address
  (``SIGNIN_PER_ADDRESS`` a minute, ``SIGNIN_PER_ADDRESS_HOURLY`` an hour, counted whether the address is known or not, so the limit
  itself tells nothing): ``RateLimited`` when over either;
- a sign-in link is a signed token (``tokens``), valid ``tokens.SIGNIN_VALIDITY`` seconds, that
  works once: its nonce's hash is stored with its expiry (``models.SigninLink``, written with
  the e-mail in one transaction). A new link ends the subject's earlier open ones (they answer
  as expired), so only the latest e-mail signs in. Reading it (``read_signin``) changes nothing, so a mail
  scanner fetching the link neither uses it up nor opens a session; ``open_session`` (the
  page's button, a POST) marks it used and hands out a session token valid
  ``tokens.SESSION_VALIDITY`` seconds, scoped to that subject, in one transaction: of two
  sign-ins with one link, in any processes, exactly one gets a session (``onetime.use``); the
  other gets Gone (reason ``used``). The forms' CSRF token is Flask-WTF's, in the public pages'
  own session: see ``web.security``;
- ``purge_signin_links`` deletes the rows of links past their expiry (the worker's housekeeping);
- ``choices`` lists the purposes the person can be asked (consent purposes that are not strictly
  necessary; with a site, those the site offers) with the notice text of the current version
  and the gate's current answer (``ledger.queries.decide_one``, the one behind
  ``POST /v1/decisions``);
- ``change`` records one decision with channel ``web_form``, method ``custom`` through
  ``ledger.service.record_consent`` (one transaction) and returns its receipt's id;
  ``receipt`` re-issues that signed receipt from the ledger (only for the session's subject).

A grant of a double opt-in purpose made here is effective at once, not pending: the person
opened a link sent to the address, which is exactly what the confirmation e-mail would prove.
The event's proof says so (``address_verified: signin_link`` and when the link was issued).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from consent_service import onetime
from consent_service.context import Context
from consent_service.crypto.envelope import normalise_identity
from consent_service.db import columns_of
from consent_service.errors import Gone, InvalidInput, NotFound, RateLimited
from consent_service.ledger import queries, receipts, tree
from consent_service.ledger import service as ledger
from consent_service.ledger.models import LedgerEvent
from consent_service.preferences import mail, tokens
from consent_service.preferences.models import SigninLink
from consent_service.ratelimit import limiter_of
from consent_service.registry.models import Purpose, PurposeVersion
from consent_service.registry.public_site import PublicSite
from consent_service.subjects import service as subjects
from consent_service.subjects.models import Subject
from consent_service.subjects.service import IdentityRef

SIGNIN_PATH = "/privacy/preferences/signin"
SIGNIN_PER_IP = 10
SIGNIN_PER_ADDRESS = 3
SIGNIN_PER_ADDRESS_HOURLY = 10  # so nobody can mail one address all day, three a minute
CHANGES_PER_SUBJECT = 30
MAX_ADDRESS = 254
_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# the gate's reasons, as the person reads them
STATES = {
    "consent_granted": "granted",
    "consent_denied": "refused",
    "consent_withdrawn": "refused",
    "no_consent": "none",
    "consent_expired": "expired",
    "consent_outdated": "outdated",
    "confirmation_pending": "pending",
}


@dataclass(frozen=True)
class SignIn:
    subject_id: str
    language: str
    site_key: str | None
    issued_at: dt.datetime


@dataclass(frozen=True)
class Session:
    subject_id: str
    nonce: str
    language: str
    site_key: str | None
    signin_issued_at: str  # when the sign-in link that opened this session was sent (ISO 8601)


@dataclass(frozen=True)
class Choice:
    purpose: str
    title: str
    description: str
    version: int
    state: str  # granted | refused | none | expired | outdated | pending | limited
    valid_until: dt.datetime | None


def normalised_address(address: str) -> str:
    """The address as its identity is indexed; InvalidInput when it is not an e-mail address."""
    value = normalise_identity("email", address or "")
    if len(value) > MAX_ADDRESS or not _ADDRESS.fullmatch(value):
        raise InvalidInput("not an e-mail address", errors={"email": ["enter an e-mail address"]})
    return value


def _limit(ctx: Context, name: str, per_minute: int, key: str, *, hourly: bool = False) -> None:
    limiter = limiter_of(ctx)
    wait = limiter.hit_hourly(name, per_minute, key) if hourly else limiter.hit(name, per_minute, key)
    if wait is not None:
        raise RateLimited("too many sign-in links were asked for", retry_after=wait)


def request_signin(ctx: Context, address: str, *, ip: str, language: str, site: PublicSite) -> None:
    """Send a sign-in link to ``address`` if it belongs to a subject; the same (nothing) either way.

    InvalidInput for a value that is not an address; RateLimited per IP and per address."""
    value = normalised_address(address)
    _limit(ctx, "preferences-signin-ip", SIGNIN_PER_IP, ip)
    digest = hashlib.sha256(value.encode()).hexdigest()
    _limit(ctx, "preferences-signin-address", SIGNIN_PER_ADDRESS, digest)
    _limit(ctx, "preferences-signin-address-hourly", SIGNIN_PER_ADDRESS_HOURLY, digest, hourly=True)
    with ctx.uow() as uow:
        session = uow.session
        subject_id = subjects.resolve(session, ctx.crypto, IdentityRef("email", value))
        key = subjects.data_key(session, ctx.crypto, subject_id) if subject_id else None
        if subject_id is None or key is None:
            return  # unknown or erased: nothing is sent, and the caller answers as if it were
        now = ctx.now()
        secret = onetime.new_secret()
        expires = now + dt.timedelta(seconds=tokens.SIGNIN_VALIDITY)
        onetime.end_open(session, SigninLink, now, SigninLink.subject_id == subject_id)
        session.add(
            SigninLink(
                id=str(uuid.uuid4()),
                token_hash=onetime.secret_hash(secret),
                subject_id=subject_id,
                created_at=now,
                expires_at=expires,
                used_at=None,
            )
        )
        token = tokens.make(ctx, "signin", [subject_id, language, site.key, secret])
        mail.enqueue(
            session,
            ctx.config,
            subject_id=subject_id,
            key=key,
            to=value,
            language=language,
            now=now,
            site_name=site.name,
            link=f"{ctx.config.public_url.rstrip('/')}{SIGNIN_PATH}?token={token}",
            expires=expires,
        )
        uow.commit()


def _carried(payload: Any) -> dict[str, Any]:
    """The language and site a genuine sign-in link was sent for, so that the page saying it
    cannot sign in speaks to the person as the e-mail did."""
    if isinstance(payload, list) and len(payload) == 4:
        return {"language": str(payload[1]), "site_key": payload[2] or None}
    return {}


def _read(ctx: Context, kind: str, token: str, max_age: int | None) -> tuple[list[Any], dt.datetime]:
    try:
        return tokens.read_dated(ctx, kind, token, max_age)
    except tokens.TokenExpired as exc:
        extra = {"reason": "expired"} | (_carried(exc.payload) if kind == "signin" else {})
        raise Gone("the link has expired", extra=extra) from exc
    except tokens.TokenInvalid as exc:
        raise NotFound("the link is not valid", extra={"reason": "invalid"}) from exc


def _open_link(ctx: Context, session: DbSession, token: str) -> tuple[SignIn, SigninLink]:
    """The sign-in link of ``token`` if it can sign in now: Gone (reason ``expired``, ``used`` or
    ``erased``) or NotFound (``invalid``: forged, cut, another kind, or sent before links had
    a nonce) otherwise."""
    payload, issued = _read(ctx, "signin", token, tokens.SIGNIN_VALIDITY)
    if len(payload) != 4 or not all(isinstance(value, str) for value in (payload[0], payload[3])):
        raise NotFound("the link is not valid", extra={"reason": "invalid"})
    subject_id = payload[0]
    link = onetime.find(session, SigninLink, payload[3])
    if link is None or link.subject_id != subject_id or session.get(Subject, subject_id) is None:
        raise NotFound("the link is not valid", extra={"reason": "invalid"})
    state = onetime.state(link, ctx.now())
    if state != "open":
        raise Gone(f"the link is {state}", extra={"reason": state} | _carried(payload))
    if subjects.data_key(session, ctx.crypto, subject_id) is None:
        raise Gone("the person's data was erased", extra={"reason": "erased"} | _carried(payload))
    return SignIn(subject_id, str(payload[1]), payload[2] or None, issued), link


def read_signin(ctx: Context, token: str) -> SignIn:
    """What a sign-in link is for; writes nothing, so the link stays usable. Gone (expired,
    used, erased) or NotFound (invalid)."""
    with ctx.uow(write=False) as uow:
        return _open_link(ctx, uow.session, token)[0]


def open_session(ctx: Context, token: str) -> tuple[SignIn, str]:
    """The sign-in link's subject and a session token for it (the link's button, a POST); the
    link is used up in the same transaction. Gone or NotFound as ``read_signin``."""
    with ctx.uow() as uow:
        signin, link = _open_link(ctx, uow.session, token)
        if not onetime.use(uow.session, SigninLink, link.id, ctx.now()):
            raise Gone("the link is used", extra={"reason": "used"})
        uow.commit()
    session_token = tokens.make(
        ctx,
        "session",
        [signin.subject_id, tokens.nonce(), signin.language, signin.site_key, signin.issued_at.isoformat()],
    )
    return signin, session_token


def read_session(ctx: Context, session_token: str) -> Session | None:
    """The session of a session token, or None when it is missing, forged or expired."""
    try:
        payload = tokens.read(ctx, "session", session_token, tokens.SESSION_VALIDITY)
    except (tokens.TokenExpired, tokens.TokenInvalid):
        return None
    if len(payload) != 5:
        return None
    return Session(payload[0], payload[1], payload[2], payload[3] or None, payload[4])


def _text(texts: dict[str, Any], language: str) -> str:
    return str(texts.get(language) or texts.get("en") or next(iter(texts.values()), ""))


def _askable(ctx: Context, site: PublicSite) -> list[tuple[Purpose, PurposeVersion]]:
    with ctx.uow(write=False) as uow:
        rows = uow.session.execute(
            select(Purpose, PurposeVersion)
            .join(
                PurposeVersion,
                (PurposeVersion.purpose_key == Purpose.key)
                & (PurposeVersion.version == Purpose.current_version),
            )
            .where(Purpose.legal_basis == "consent", Purpose.strictly_necessary.is_(False))
            .order_by(Purpose.key)
        ).all()
        for purpose, version in rows:
            uow.session.expunge(purpose)
            uow.session.expunge(version)
    found = [(p, v) for p, v in rows]
    if site.purposes is not None:
        order = {key: index for index, key in enumerate(site.purposes)}
        found = sorted((pv for pv in found if pv[0].key in order), key=lambda pv: order[pv[0].key])
    return found


def choices(ctx: Context, subject_id: str, site: PublicSite, language: str) -> list[Choice]:
    """The purposes the person can be asked, each with its notice and the gate's answer now."""
    out = []
    for purpose, version in _askable(ctx, site):
        decision = queries.decide_one(ctx, subject_id, purpose.key)
        out.append(
            Choice(
                purpose.key,
                _text(version.titles or {}, language),
                _text(version.descriptions or {}, language),
                version.version,
                STATES.get(decision.reason, "limited"),
                decision.valid_until if decision.allowed else None,
            )
        )
    return out


def change(
    ctx: Context,
    session: Session,
    purpose_key: str,
    granted: bool,
    *,
    site: PublicSite,
    language: str,
    ip: str | None,
    user_agent: str | None,
) -> str:
    """Record the person's decision on one purpose (``web_form`` / ``custom``); its receipt's id.

    InvalidInput for a purpose the person is not asked here; RateLimited past
    ``CHANGES_PER_SUBJECT`` changes a minute."""
    if purpose_key not in {p.key for p, _ in _askable(ctx, site)}:
        raise InvalidInput(
            "not a choice offered here", errors={"purpose": ["choose one of the purposes shown"]}
        )
    wait = limiter_of(ctx).hit("preferences-change", CHANGES_PER_SUBJECT, session.subject_id)
    if wait is not None:
        raise RateLimited("too many changes in a minute", retry_after=wait)
    proof: dict[str, Any] = {
        "address_verified": "signin_link",
        "signin_link_sent_at": session.signin_issued_at,
    }
    if ip:
        proof["ip"] = ip
    if user_agent:
        proof["user_agent"] = user_agent[:512]
    recorded = ledger.record_consent(
        ctx,
        ledger.RecordConsent(
            decisions=[ledger.DecisionInput("purpose", purpose_key, granted)],
            channel="web_form",
            method="custom",
            actor_type="subject",
            actor_id=session.subject_id,
            subject_id=session.subject_id,
            collection_point="preference_centre" + (f":{site.key}" if site.key else ""),
            language=language,
            proof=proof,
        ),
    )
    return str(recorded.receipt["payload"]["consentReceiptID"])


def receipt(ctx: Context, subject_id: str, receipt_id: str) -> dict[str, Any]:
    """The signed receipt ``receipt_id`` of a change made here, re-issued from its ledger event,
    if the event is the subject's (or its linked group's); NotFound otherwise.

    A change records one event, so its receipt covers that event alone; Ed25519 signatures are
    deterministic, so the re-issued receipt is the one handed out when it was recorded, with its
    inclusion proof against the log's latest checkpoint once the event is in the tree."""
    event_id = receipt_id.removeprefix("rcpt_")
    with ctx.uow(write=False) as uow:
        session = uow.session
        event = session.scalars(select(LedgerEvent).where(LedgerEvent.id == event_id)).first()
        root = subjects.root_of(session, subject_id)
        if (
            event is None
            or not receipt_id.startswith("rcpt_")
            or event.kind != "consent"
            or event.target_type != "purpose"
            or subjects.root_of(session, event.subject_id) != root
        ):
            raise NotFound("no such receipt", extra={"reason": "unknown"})
        version = session.get(PurposeVersion, (event.target_key, event.purpose_version))
        assert version is not None, "an event names a purpose version that exists"
        row = columns_of(event) | {"purpose_key": str(event.target_key)}
        receipt = receipts.reissue(ctx, [row], {(version.purpose_key, version.version): version})
        receipt["inclusion"] = tree.receipt_inclusion(session, [row])
        return receipt


def purge_signin_links(ctx: Context) -> int:
    """Delete the sign-in links past their expiry, used or not (their tokens no longer verify)."""
    with ctx.uow() as uow:
        result = uow.session.execute(delete(SigninLink).where(SigninLink.expires_at <= ctx.now()))
        uow.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
