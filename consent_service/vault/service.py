"""Vault tokens: personal data of other systems, sealed under the subject's data key.

A token is ``vt1.<subject id>.<field>.<base64url(nonce + ciphertext)>``; the associated data
binds subject and field, so a token edited to name another subject or field does not open.
Nothing is stored here: erasing the subject (destroying its key) makes every token of that
subject, in every system that holds one, unreadable. Every decrypt, allowed or not, is written
to the tamper-evident ``vault`` audit log (client, purpose, field, outcome; never the value).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from consent_service.auditlog import service as auditlog
from consent_service.context import Context
from consent_service.crypto.envelope import DecryptionFailed, field_aad, open_sealed, seal
from consent_service.errors import Gone, InvalidInput, ProcessingDenied, UnknownSubject
from consent_service.ledger import queries
from consent_service.subjects import service as subjects
from consent_service.subjects.service import IdentityRef

PREFIX = "vt1"
FIELD = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")
MAX_BATCH = 1000
MAX_VALUE_BYTES = 4096
LOG = "vault"


@dataclass(frozen=True)
class EncryptItem:
    field: str
    value: str
    subject_id: str | None = None
    subject: IdentityRef | None = None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def parse_token(token: str) -> tuple[str, str, bytes]:
    parts = token.split(".")
    try:
        if len(parts) != 4 or parts[0] != PREFIX or not FIELD.match(parts[2]) or not parts[1]:
            raise ValueError("shape")
        return parts[1], parts[2], _unb64(parts[3])
    except ValueError as exc:
        raise InvalidInput("not a vault token", errors={"token": ["not a vault token (vt1.…)"]}) from exc


def _check(index: int | None, item: EncryptItem) -> dict[str, list[str]]:
    where = "" if index is None else f"items.{index}."
    errors: dict[str, list[str]] = {}
    if not FIELD.match(item.field):
        errors[where + "field"] = ["1-64 of a-z, 0-9, '_' and '.', starting with a letter"]
    if len(item.value.encode()) > MAX_VALUE_BYTES:
        errors[where + "value"] = [f"at most {MAX_VALUE_BYTES} bytes"]
    return errors


def encrypt(ctx: Context, items: Sequence[EncryptItem]) -> list[str]:
    """Tokens for ``items`` in order, all in one transaction; unknown identities get a subject."""
    if not items or len(items) > MAX_BATCH:
        raise InvalidInput("bad batch", errors={"items": [f"1 to {MAX_BATCH} items"]})
    errors: dict[str, list[str]] = {}
    for index, item in enumerate(items):
        errors.update(_check(index if len(items) > 1 else None, item))
    if errors:
        raise InvalidInput("the values cannot be sealed", errors=errors)
    tokens = []
    # Sealing for known subject ids writes nothing: only identities may create subjects.
    writes = any(item.subject_id is None for item in items)
    with ctx.uow(write=writes) as uow:
        session = uow.session
        now = ctx.now()
        for item in items:
            if item.subject_id is not None:
                subject_id = item.subject_id
                exists, key = subjects.key_state(session, ctx.crypto, subject_id)
                if not exists:
                    raise UnknownSubject(f"subject {subject_id!r} is not known")
            else:
                assert item.subject is not None
                subject_id, _ = subjects.get_or_create(session, ctx.crypto, item.subject, now)
                key = subjects.data_key(session, ctx.crypto, subject_id)
            if key is None:
                raise Gone(f"subject {subject_id} has been erased", extra={"reason": "erased"})
            blob = seal(key, item.value.encode(), field_aad(subject_id, "vault", item.field))
            tokens.append(f"{PREFIX}.{subject_id}.{item.field}.{_b64(blob)}")
        if writes:
            uow.commit()
    return tokens


def decrypt(ctx: Context, token: str, purpose: str, *, client_id: str) -> dict[str, Any]:
    """The value, if the gate allows ``purpose`` for the token's subject; logged either way."""
    subject_id, field, blob = parse_token(token)
    decision = queries.decide_one(ctx, subject_id, purpose)
    with ctx.uow(write=False) as uow:  # reads first: the write lock is held for the log append only
        known, key = subjects.key_state(uow.session, ctx.crypto, subject_id)
    value: str | None = None
    if decision.allowed and key is not None:
        try:
            value = open_sealed(key, blob, field_aad(subject_id, "vault", field)).decode()
        except DecryptionFailed:
            value = None
    if not known:
        outcome = "unknown_subject"
    elif key is None:
        outcome = "erased"
    elif not decision.allowed:
        outcome = decision.reason
    elif value is None:
        outcome = "invalid_token"
    else:
        outcome = "allowed"
    with ctx.uow() as uow:
        entry = auditlog.append(
            uow.session,
            LOG,
            actor=client_id,
            action="decrypt",
            subject_id=subject_id if known else None,
            details={"purpose": purpose, "field": field, "outcome": outcome},
            now=ctx.now(),
        )
        uow.commit()
    if outcome == "unknown_subject":
        raise UnknownSubject("the token names an unknown subject")
    if outcome == "erased":
        raise Gone("the subject of this token has been erased", extra={"reason": "erased"})
    if outcome == "invalid_token":
        raise InvalidInput("the token does not open", errors={"token": ["altered or not issued here"]})
    if outcome != "allowed":
        raise ProcessingDenied(
            f"processing for {purpose!r} is not allowed: {decision.reason}",
            extra={"reason": decision.reason, "access_log_seq": entry["seq"]},
        )
    return {
        "value": value,
        "subject_id": subject_id,
        "field": field,
        "purpose": purpose,
        "reason": decision.reason,
        "access_log_seq": entry["seq"],
    }


def access_log(ctx: Context, *, after: int, limit: int) -> dict[str, Any]:
    with ctx.uow(write=False) as uow:
        items = auditlog.entries(uow.session, LOG, after=after, limit=limit)
    return {
        "entries": items,
        "next_after": items[-1]["seq"] if items else after,
        "has_more": len(items) == limit,
    }


def verify_access_log(ctx: Context) -> dict[str, Any]:
    with ctx.uow(write=False) as uow:
        return auditlog.verify(uow.session, LOG).as_dict()
