"""The e-mailed verification codes of a request: issued when it is opened, issued anew on request.

``send`` gives every e-mail identity of a request its own fresh 6-digit code (only its HMAC is
kept, sealed with the identities; the first address's also in ``dsar_verifications``, as for
requests stored before per-address codes), valid ``CONSENT_VERIFICATION_CODE_MINUTES``, and
queues the e-mails. ``requests.open_request`` calls it for a new request, ``requests.resend_code``
for one whose code expired or was lost: the earlier codes stop working at once, and the count
of wrong codes is the request's, not the code's (a new code gives no new guesses).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.dsar import notify, verified
from consent_service.dsar.request_models import DsarRequest, DsarVerification


def legacy_hash(ctx: Context, request_id: str, code: str) -> str:
    """The request-level HMAC of its first address's code (``dsar_verifications.code_hash``)."""
    return hmac.new(
        ctx.crypto.material.index_key, f"dsar-code|{request_id}|{code}".encode(), hashlib.sha256
    ).hexdigest()


def send(
    ctx: Context,
    session: Session,
    request: DsarRequest,
    entries: list[dict[str, Any]],
    *,
    actor: str,
    portal: bool,
    now: dt.datetime,
) -> list[str]:
    """New codes for the e-mail identities in ``entries`` (updated in place: the caller seals them),
    the verification row set to expire ``CONSENT_VERIFICATION_CODE_MINUTES`` from ``now``, and one
    e-mail per address queued; returns the outbox ids to deliver after commit. ``portal``: the
    e-mail names the request's page in the privacy portal."""
    key = ctx.crypto.material.index_key
    codes = {n: f"{secrets.randbelow(10**6):06d}" for n, e in enumerate(entries) if e["type"] == "email"}
    for n, code in codes.items():
        entries[n] = entries[n] | {"code": verified.code_hash(key, request.id, n, code)}
    minutes = ctx.config.verification_code_minutes
    first = legacy_hash(ctx, request.id, codes[min(codes)])
    check = session.get(DsarVerification, request.id)
    if check is None:
        session.add(
            DsarVerification(
                request_id=request.id,
                code_hash=first,
                expires_at=now + dt.timedelta(minutes=minutes),
                attempts=0,
                max_attempts=ctx.config.verification_max_attempts,
            )
        )
    else:
        check.code_hash = first
        check.expires_at = now + dt.timedelta(minutes=minutes)
    status_url = f"{ctx.config.public_url.rstrip('/')}/privacy/requests/{request.id}" if portal else None
    return [
        notify.tell(
            ctx, session, request, "verification_code", actor=actor,
            to=[entries[n]["value"]], code=code, minutes=minutes, status_url=status_url,
        )[0]
        for n, code in codes.items()
    ]  # fmt: skip
