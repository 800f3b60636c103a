"""What the public privacy portal (``/privacy``) may do with a request, and show of it.

A person opens a request without an account (``requests.open_request`` with e-mail verification,
as the API does: the code goes to the address; other identifiers stay unverified until the DPO
verifies them). To come back, the person enters the code of the e-mail: ``enter_code`` verifies
it as ``requests.verify`` does (a wrong code counts towards the lock-out) and gives a status
token, ``<base64url("<request id>.<expiry>")>.<hex HMAC-SHA256>`` under a key derived by HKDF from
the current master key (info ``consent-service portal status``), valid
``CONSENT_PORTAL_STATUS_DAYS`` and for that one request only. Once the request is verified, the
same code still opens the status page until it expires (``CONSENT_VERIFICATION_CODE_MINUTES``),
with the same lock-out; after that the token (kept by the browser) is the way back, and the
e-mails say what happened.

``status`` shows the person what they may know and nothing internal: the type, the phase in
words (``PHASES``), the dates, a refusal's ground, and whether a package can be downloaded —
no subject id, no identities, no store names beyond the package's own collections.
A request id alone opens nothing: an unknown id and a known one look the same until the code.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from consent_service.context import Context
from consent_service.crypto.derivation import derive
from consent_service.dsar import package, package_links, verified
from consent_service.dsar import requests as dsar
from consent_service.dsar.execution_models import DsarPackage
from consent_service.dsar.portal_models import PortalChallenge
from consent_service.dsar.request_models import DsarRequest, DsarVerification
from consent_service.errors import Conflict, InvalidInput, RateLimited
from consent_service.ratelimit import limiter_of
from consent_service.registry.models import Purpose, PurposeVersion

INFO = b"consent-service portal status"
ACTOR = "portal"  # the audit trail's actor for what the person did in the portal
# what the person is shown of a request's state
PHASES = {
    "received": "waiting_for_code",
    "identity_pending": "waiting_for_code",
    "verified": "working",
    "in_progress": "working",
    "failed": "working",  # a failed run is the DPO's to retry; the person's request is still open
    "completed": "done",
    "rejected": "refused",
}


OBJECTABLE_BASES = ("legitimate_interests", "public_task")  # Art. 21(1): Art. 6(1)(e) and (f)


def _purposes(ctx: Context, language: str, keys: list[str] | None, objectable: bool) -> list[tuple[str, str]]:
    with ctx.uow(write=False) as uow:
        query = select(Purpose.key, PurposeVersion.titles).join(
            PurposeVersion,
            (PurposeVersion.purpose_key == Purpose.key) & (PurposeVersion.version == Purpose.current_version),
        )
        if keys is not None:
            query = query.where(Purpose.key.in_(keys))
        if objectable:
            query = query.where(
                Purpose.legal_basis.in_(OBJECTABLE_BASES) | Purpose.direct_marketing.is_(True)
            )
        rows = uow.session.execute(query.order_by(Purpose.key)).all()
    return [(key, str(titles.get(language) or titles.get("en") or key)) for key, titles in rows]


def purpose_choices(ctx: Context, language: str, keys: list[str] | None = None) -> list[tuple[str, str]]:
    """The purposes a person may object to (Art. 21), as ``(key, title in language)``, of the site's
    ``keys`` or all: those processed on legitimate interests or a public task (Art. 21(1)) and
    those the registry marks direct marketing (Art. 21(2)), whatever their basis. A purpose
    based on consent is withdrawn (Art. 7(3), the preference centre), not objected to."""
    return _purposes(ctx, language, keys, objectable=True)


def purpose_titles(ctx: Context, language: str, keys: list[str]) -> dict[str, str]:
    """The titles in ``language`` of these purposes, whatever their basis (a request's own)."""
    return dict(_purposes(ctx, language, keys, objectable=False))


def address_key(ctx: Context, email: str) -> str:
    """What the portal counts an e-mail address under: an HMAC of it, lower-cased, never the address."""
    return hmac.new(
        ctx.crypto.material.index_key, b"portal|" + email.strip().lower().encode(), hashlib.sha256
    ).hexdigest()


def address_wait(ctx: Context, emails: list[str]) -> int | None:
    """Count one e-mail to each address against ``CONSENT_PORTAL_EMAIL_*LIMIT`` (per minute, hour
    and day); the seconds to wait when one address used up a window, else None."""
    config = ctx.config
    limiter = limiter_of(ctx)
    for email in emails:
        wait = limiter.hit_windows(
            "portal-email", address_key(ctx, email),
            config.portal_email_limit, config.portal_email_hourly_limit, config.portal_email_daily_limit,
        )  # fmt: skip
        if wait:
            return wait
    return None


def resend_code(ctx: Context, request_id: str) -> None:
    """New codes for the request (``requests.resend_code``, as the portal's), at most
    ``CONSENT_PORTAL_RESEND_LIMIT`` an hour per request and within each address's limits
    (RateLimited, nothing written); NotFound and Conflict as ``requests.resend_code``."""

    def admit(emails: list[str]) -> None:
        wait = limiter_of(ctx).hit_windows("portal-resend", request_id, 0, ctx.config.portal_resend_limit, 0)
        wait = wait or address_wait(ctx, emails)
        if wait:
            raise RateLimited("too many new codes in a short time", retry_after=wait)

    dsar.resend_code(ctx, request_id, actor=ACTOR, portal=True, admit=admit)


def spend_challenge(ctx: Context, signature: str, *, until: dt.datetime) -> bool:
    """Record the solved challenge with this signature as used, kept until ``until`` (when it could
    no longer be accepted anyway); False when it was used before, by this process or any other:
    the table's primary key decides, also between two that try at the same moment."""
    digest = hashlib.sha256(signature.encode()).hexdigest()
    with ctx.uow() as uow:
        uow.session.add(PortalChallenge(digest=digest, expires_at=until))
        try:
            uow.commit()
        except IntegrityError:
            return False
    return True


def purge_challenges(ctx: Context, now: dt.datetime) -> int:
    """Forget the used challenges that expired before ``now`` (the worker's housekeeping)."""
    with ctx.uow() as uow:
        gone = uow.session.execute(delete(PortalChallenge).where(PortalChallenge.expires_at < now))
        uow.commit()
    return int(getattr(gone, "rowcount", 0) or 0)


def _mac(ctx: Context, payload: str, version: int | None = None) -> str:
    material = ctx.crypto.material
    key = derive(material.keks[material.current_kek if version is None else version], INFO)
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _token(ctx: Context, request_id: str) -> tuple[str, dt.datetime]:
    expires = (ctx.now() + dt.timedelta(days=ctx.config.portal_status_days)).replace(microsecond=0)
    payload = f"{request_id}.{int(expires.timestamp())}"
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    return f"{encoded}.{_mac(ctx, payload)}", expires


def check_token(ctx: Context, request_id: str, token: str | None) -> bool:
    """Whether ``token`` is a valid, unexpired status token of this very request."""
    if not token:
        return False
    encoded, _, mac = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        granted, _, expiry = payload.rpartition(".")
        expires_at = dt.datetime.fromtimestamp(int(expiry), dt.UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        return False
    if granted != request_id or ctx.now() > expires_at:
        return False
    return any(hmac.compare_digest(_mac(ctx, payload, v), mac) for v in ctx.crypto.material.keks)


def _wrong_code(left: int) -> InvalidInput:
    return InvalidInput("wrong code", errors={"code": [f"wrong code; {left} attempt(s) left"]})


def enter_code(ctx: Context, request_id: str, code: str) -> tuple[str, dt.datetime]:
    """The status token (and its expiry) for the right code of the request.

    Unverified: the code verifies the request (``requests.verify``; a wrong one counts an attempt,
    InvalidInput). Verified already: the same code opens the status again while it has not
    expired, with the same count of wrong attempts. An unknown request answers as a wrong code
    (InvalidInput), so that the id alone tells nothing; a locked or expired code is Conflict."""
    code = code.strip()
    with ctx.uow(write=False) as uow:
        request = uow.session.get(DsarRequest, request_id)
        if request is None:
            raise _wrong_code(ctx.config.verification_max_attempts)
        pending = request.state in ("received", "identity_pending")
    if pending:
        dsar.verify(ctx, request_id, code=code, dpo_note=None, actor=ACTOR)
        return _token(ctx, request_id)
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.now()
        request = dsar.load_request(session, request_id)
        check = session.get(DsarVerification, request_id)
        if check is None:  # verified by the DPO: no code was sent
            raise Conflict("no code was sent for this request")
        if check.attempts >= check.max_attempts:
            raise Conflict("too many wrong codes")
        if now > check.expires_at:
            raise Conflict("the code has expired")
        entries = verified.request_identities(ctx, session, request) or []
        key = ctx.crypto.material.index_key
        right = any(
            "code" in e and hmac.compare_digest(e["code"], verified.code_hash(key, request_id, n, code))
            for n, e in enumerate(entries)
        )
        if not right:
            check.attempts += 1
            dsar.log_event(
                session, request_id, ACTOR, "wrong_code", {"attempt": check.attempts}, now, request.subject_id
            )
            uow.commit()
            raise _wrong_code(check.max_attempts - check.attempts)
    return _token(ctx, request_id)


def status(ctx: Context, request_id: str) -> dict[str, Any]:
    """What the person may see of their request (see the module docstring); NotFound if none."""
    with ctx.uow(write=False) as uow:
        session = uow.session
        request = dsar.load_request(session, request_id)
        found = session.get(DsarPackage, request_id)
        now = ctx.now()
        ready = found is not None and now <= found.expires_at and request.state == "completed"
        out: dict[str, Any] = {
            "id": request.id,
            "type": request.type,
            "phase": PHASES.get(request.state, "working"),
            "received_at": request.received_at,
            "due_at": request.due_at,
            "extended": request.extension_months > 0,
            "closed_at": request.closed_at,
            "refusal_ground": request.refusal_ground,
            "language": request.language,
            "purposes": list(request.purposes),
            "package_expires_at": found.expires_at if found is not None and ready else None,
            "package_expired": found is not None and not ready and request.state == "completed",
        }
    collections: list[str] = []
    if out["package_expires_at"] is not None:
        csvs = package.read(ctx, request_id, "csv")
        collections = sorted(csvs)
    return out | {"collections": collections}


def download_link(ctx: Context, request_id: str) -> str:
    """A fresh signed, expiring download token for the package (``package_links``), audited as the
    portal's; NotFound before the package exists, Gone once it expired."""
    return str(package_links.make_link(ctx, request_id, actor=ACTOR)["token"])
