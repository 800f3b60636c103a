"""Download links for access packages: an HMAC-signed, expiring token, no bearer token needed.

A token is ``<base64url("<request id>.<expiry unix seconds>")>.<hex HMAC-SHA256>`` under a key
derived by HKDF from the current master key (info ``consent-service package link``). Nothing is
stored: a tampered token fails the HMAC (Unauthorized), an old one is Gone. Links live
``LINK_HOURS`` at most and never beyond the package itself; rotating the master key (and
retiring the old one) invalidates every link.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
from typing import Any

from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.derivation import derive
from consent_service.dsar.execution_models import DsarPackage
from consent_service.dsar.requests import load_request, log_event
from consent_service.errors import Gone, NotFound, Unauthorized

INFO = b"consent-service package link"
LINK_HOURS = 72


def _mac(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def _key(ctx: Context, version: int | None = None) -> bytes:
    material = ctx.crypto.material
    return derive(material.keks[material.current_kek if version is None else version], INFO)


def issue(ctx: Context, session: Session, request_id: str, *, actor: str) -> dict[str, Any]:
    """In the caller's transaction: a signed token for the request's package, valid
    ``LINK_HOURS`` (or until the package expires), and its audit entry."""
    now = ctx.now()
    request = load_request(session, request_id)
    package = session.get(DsarPackage, request_id)
    if package is None:
        raise NotFound(f"request {request_id!r} has no package (yet)")
    if now > package.expires_at:
        raise Gone("the package has expired", extra={"reason": "expired"})
    expires = min(now + dt.timedelta(hours=LINK_HOURS), package.expires_at).replace(microsecond=0)
    payload = f"{request_id}.{int(expires.timestamp())}"
    encoded = base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")
    token = f"{encoded}.{_mac(_key(ctx), payload)}"
    log_event(
        session,
        request_id,
        actor,
        "package_link_created",
        {"expires_at": expires.isoformat()},
        now,
        request.subject_id,
    )
    return {"token": token, "expires_at": expires}


def url_of(ctx: Context, token: str) -> str:
    """The download address of a token under ``CONSENT_PUBLIC_URL`` (for the person's e-mail)."""
    return f"{ctx.config.public_url.rstrip('/')}/v1/packages/{token}"


def make_link(ctx: Context, request_id: str, *, actor: str) -> dict[str, Any]:
    """A signed token for the request's package, valid ``LINK_HOURS`` (or until the package expires)."""
    with ctx.uow() as uow:
        link = issue(ctx, uow.session, request_id, actor=actor)
        uow.commit()
    return link


def open_link(ctx: Context, token: str) -> str:
    """The request id a token grants; Unauthorized if tampered, Gone once expired."""
    encoded, _, mac = token.partition(".")
    try:
        payload = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
        request_id, _, expiry = payload.rpartition(".")
        expires_at = dt.datetime.fromtimestamp(int(expiry), dt.UTC)
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError, OSError):
        raise Unauthorized("the package link is not valid") from None
    keys = ctx.crypto.material.keks
    if not request_id or not any(hmac.compare_digest(_mac(_key(ctx, v), payload), mac) for v in keys):
        raise Unauthorized("the package link is not valid")
    if ctx.now() > expires_at:
        raise Gone("the package link has expired", extra={"reason": "expired"})
    return request_id
