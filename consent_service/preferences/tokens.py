"""Signed tokens of the preference centre (itsdangerous, HMAC-SHA256).

Each kind has its own salt, so a token of one kind never passes as another (a sign-in link is
not a session, an unsubscribe link opens no session). The key is derived by HKDF from every
master key, newest last: tokens are signed with the current one and still verify under a key
being retired, so a master-key rotation does not break the unsubscribe links of e-mails sent
before it; retiring the old key ends them.

- ``signin``: ``[subject id, language, site key, nonce]``, valid ``SIGNIN_VALIDITY`` seconds;
  the only kind with a row in the database: the nonce's hash, so that the link works once
  (``models.SigninLink``); the signature is checked first, so a forged link costs no query;
- ``session``: ``[subject id, random nonce, language, site key, sign-in link's date]``, valid
  ``SESSION_VALIDITY`` seconds (the forms' CSRF token is Flask-WTF's, not one of these);
- ``unsubscribe``: ``[subject id, purpose key]``, without expiry (a newsletter stays in
  people's inboxes for years, RFC 8058 asks the link to keep working).

A subject id is opaque (``sub_…``); no token carries an e-mail address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from consent_service.context import Context
from consent_service.crypto.derivation import derive

KEY_INFO = b"consent-service preference centre"
SIGNIN_VALIDITY = 3600  # one hour: long enough to find the e-mail, short enough to be useless later
SESSION_VALIDITY = 1800  # half an hour without a new sign-in link
MAX_TOKEN = 400
SALTS = {
    "signin": "consent-service preferences signin",
    "session": "consent-service preferences session",
    "unsubscribe": "consent-service unsubscribe",
}


class TokenExpired(Exception):
    """The token was genuine but is too old; ``payload`` is what it carried (its signature was
    checked before its age), so a page can still speak the person's language."""

    def __init__(self, message: str, payload: Any = None) -> None:
        super().__init__(message)
        self.payload = payload


class TokenInvalid(Exception):
    """The token was not made by this service for this use (forged, cut, another kind)."""


def _serializer(ctx: Context, kind: str) -> URLSafeTimedSerializer:
    material = ctx.crypto.material
    versions = sorted(material.keks, key=lambda v: (v == material.current_kek, v))
    keys = [derive(material.keks[v], KEY_INFO) for v in versions]

    class Clocked(TimestampSigner):
        """Dates and ages tokens by the service's clock (a test moves it), not the wall clock."""

        def get_timestamp(self) -> int:
            return int(ctx.now().timestamp())

    return URLSafeTimedSerializer(
        keys, salt=SALTS[kind], signer=Clocked, signer_kwargs={"digest_method": hashlib.sha256}
    )


def make(ctx: Context, kind: str, payload: list[Any]) -> str:
    """A token of ``kind`` for ``payload``, dated now."""
    return str(_serializer(ctx, kind).dumps(payload))


def read(ctx: Context, kind: str, token: str, max_age: int | None) -> list[Any]:
    """The payload of a token of ``kind``; TokenExpired when older than ``max_age`` seconds,
    TokenInvalid when not made by this service for ``kind``."""
    return read_dated(ctx, kind, token, max_age)[0]


def read_dated(ctx: Context, kind: str, token: str, max_age: int | None) -> tuple[list[Any], dt.datetime]:
    """The payload of a token of ``kind`` and when it was made (as ``read``)."""
    if not token or len(token) > MAX_TOKEN:
        raise TokenInvalid("no token")
    serializer = _serializer(ctx, kind)
    try:
        payload, issued = serializer.loads(token, max_age=max_age, return_timestamp=True)
    except SignatureExpired as exc:
        try:
            carried = serializer.load_payload(exc.payload) if exc.payload is not None else None
        except BadData:
            carried = None
        raise TokenExpired("too old", carried) from exc
    except BadData as exc:
        raise TokenInvalid(type(exc).__name__) from exc
    if not isinstance(payload, list):
        raise TokenInvalid("bad payload")
    return payload, issued


def nonce() -> str:
    return secrets.token_urlsafe(16)
