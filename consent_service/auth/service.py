"""API clients: creation (token shown once), authentication by hashed token, scopes.

Tokens are 256-bit random strings; only their SHA-256 is stored, so a database dump does not
yield a usable token. ``admin`` implies every scope. ``stats:unsuppressed`` is the API's form of the
staff ``dpo`` right to statistics without the minimum-subjects rule (``ledger.stats``). Creating and revoking a client is written
to the tamper-evident ``clients`` audit log with who did it (a staff account's id, ``cli``, ...).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.auditlog import service as auditlog
from consent_service.auth.models import ApiClient
from consent_service.db import columns_of
from consent_service.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from consent_service.context import Context

SCOPES = (
    "registry:read",
    "registry:write",
    "consent:read",
    "consent:write",
    "imports:write",
    "decisions:read",
    "ledger:audit",
    "vault:encrypt",
    "vault:decrypt",
    "dsar:manage",
    "stats:read",
    "stats:unsuppressed",
    "admin",
)
TOKEN_PREFIX = "cs_"
LOG = "clients"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an API client with scopes, or a website through its public key."""

    kind: str  # "client" | "site"
    id: str
    name: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_client(
    session: Session, name: str, scopes: Sequence[str], now: dt.datetime
) -> tuple[ApiClient, str]:
    """Create a client; returns it and its token (the only time the token is available)."""
    bad = [s for s in scopes if s not in SCOPES]
    if bad or not scopes:
        raise InvalidInput(
            "unknown or missing scopes",
            errors={
                "scopes": [
                    f"choose from {', '.join(SCOPES)}" + (f"; unknown: {', '.join(bad)}" if bad else "")
                ]
            },
        )
    if not name.strip():
        raise InvalidInput("a client needs a name", errors={"name": ["must not be empty"]})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    client = ApiClient(
        id="cli_" + secrets.token_hex(8),
        name=name.strip(),
        token_hash=hash_token(token),
        token_prefix=token[:10],
        scopes=sorted(set(scopes)),
        created_at=now,
        revoked_at=None,
    )
    session.add(client)
    session.flush()
    return client, token


def authenticate(session: Session, token: str) -> Principal | None:
    row = session.execute(
        select(ApiClient.id, ApiClient.name, ApiClient.scopes).where(
            ApiClient.token_hash == hash_token(token), ApiClient.revoked_at.is_(None)
        )
    ).first()
    if row is None:
        return None
    return Principal("client", row[0], row[1], frozenset(row[2]))


def list_clients(session: Session) -> Sequence[ApiClient]:
    return session.scalars(select(ApiClient).order_by(ApiClient.created_at)).all()


def revoke_client(session: Session, client_id: str, now: dt.datetime) -> ApiClient:
    """Revoke a client; other processes notice within TOKEN_CACHE_SECONDS."""
    client = _client(session, client_id)
    if client.revoked_at is None:
        client.revoked_at = now
    return client


def _client(session: Session, client_id: str) -> ApiClient:
    client = session.get(ApiClient, client_id)
    if client is None:
        raise NotFound(f"client {client_id!r} does not exist")
    return client


def client_dict(client: ApiClient) -> dict[str, object]:
    return columns_of(client, exclude=("token_hash",))


def _log(session: Session, actor: str, action: str, client: ApiClient, now: dt.datetime) -> None:
    details = {"client": client.id, "name": client.name, "scopes": list(client.scopes)}
    auditlog.append(session, LOG, actor=actor, action=action, details=details, now=now)


def register_client(
    ctx: Context, name: str, scopes: Sequence[str], *, actor: str = "system"
) -> tuple[dict[str, object], str]:
    """Create a client in its own transaction (audit-logged with ``actor``); returns it and its
    one-time token."""
    now = ctx.now()
    with ctx.uow() as uow:
        client, token = create_client(uow.session, name, scopes, now)
        _log(uow.session, actor, "created", client, now)
        out = client_dict(client)
        uow.commit()
    return out, token


def clients(ctx: Context) -> list[dict[str, object]]:
    """Every client, the oldest first, without token hashes."""
    with ctx.uow(write=False) as uow:
        return [client_dict(c) for c in list_clients(uow.session)]


def get_client(ctx: Context, client_id: str) -> dict[str, object]:
    with ctx.uow(write=False) as uow:
        return client_dict(_client(uow.session, client_id))


TOKEN_CACHE_SECONDS = 10.0
TOKEN_CACHE_SIZE = 1024


def principal_for_token(ctx: Context, token: str) -> Principal | None:
    """The client behind a token. Answers are cached per process for 10 seconds, so a revoked
    token stops working within that time in every worker."""
    cache: dict[str, tuple[float, Principal | None]] = ctx.caches.setdefault("tokens", {})
    digest = hash_token(token)
    now = time.monotonic()
    hit = cache.get(digest)
    if hit is not None and now - hit[0] < TOKEN_CACHE_SECONDS:
        return hit[1]
    with ctx.uow(write=False) as uow:
        found = authenticate(uow.session, token)
    if len(cache) >= TOKEN_CACHE_SIZE:
        cache.clear()
    cache[digest] = (now, found)
    return found


def revoke(ctx: Context, client_id: str, *, actor: str = "system") -> dict[str, object]:
    """Revoke a client in its own transaction (audit-logged with ``actor`` the first time) and
    forget it in this process's token cache."""
    now = ctx.now()
    with ctx.uow() as uow:
        was_active = _client(uow.session, client_id).revoked_at is None
        client = revoke_client(uow.session, client_id, now)
        if was_active:
            _log(uow.session, actor, "revoked", client, now)
        out = client_dict(client)
        uow.commit()
    ctx.caches.pop("tokens", None)
    return out
