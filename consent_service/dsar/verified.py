"""Which of a request's identities were verified, and so which ones a request may act on.

Each identity a request names carries its own verification state, sealed with the identities
(``dsar_requests.identities_ct``): ``code`` (the e-mail code sent to that very address was
confirmed), ``dpo`` (a DPO verified it, with a sealed note in the audit trail) or ``None``
(pending). Each e-mail address gets its own code; only its HMAC is kept, next to the address.

An identity still pending counts as ``linked`` (verified) when the service already links it to
the subject of an identity verified by code or by the DPO (same subject group). Every other
pending identity is left out: a run uses only the usable ones (``usable``), and what it left
out is written to the audit trail with masked values (``masked``), never the plain value.

Requests stored before identities carried a state (no ``verified`` key) read as they were
verified then: a DPO verification vouched for all of them; an e-mail code was sent to the
first e-mail address only, so only that one counts (plus what is linked to it).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.envelope import Crypto, DecryptionFailed, field_aad, open_sealed, seal
from consent_service.dsar.request_models import DsarRequest
from consent_service.errors import InvalidInput
from consent_service.subjects import service as subjects
from consent_service.subjects.service import IdentityRef

BY_CODE, BY_DPO, LINKED, PENDING = "code", "dpo", "linked", "pending"


def code_hash(index_key: bytes, request_id: str, position: int, code: str) -> str:
    """The HMAC kept for the code sent to the identity at ``position`` of the request."""
    message = f"dsar-code|{request_id}|{position}|{code}".encode()
    return hmac.new(index_key, message, hashlib.sha256).hexdigest()


def normalized(entries: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    """The entries with a ``verified`` member each (older requests get theirs, see above)."""
    if all("verified" in e for e in entries):
        return entries
    first_email = next((n for n, e in enumerate(entries) if e["type"] == "email"), None)
    return [
        e | {"verified": BY_DPO if method == "dpo" else (BY_CODE if n == first_email else None)}
        for n, e in enumerate(entries)
    ]


def _group(session: Session, subject_id: str) -> str:
    return subjects.root_of(session, subject_id) or subject_id


def group_of(session: Session, crypto: Crypto, entry: dict[str, Any]) -> str | None:
    """The subject group the service links this identity to, or None when it knows none."""
    subject_id = subjects.resolve(session, crypto, IdentityRef(entry["type"], entry["value"]))
    return None if subject_id is None else _group(session, subject_id)


def in_subject_group(session: Session, crypto: Crypto, entry: dict[str, Any], subject_id: str) -> bool:
    group = group_of(session, crypto, entry)
    return group is not None and group == _group(session, subject_id)


def states(session: Session, crypto: Crypto, entries: list[dict[str, Any]]) -> list[str]:
    """Each entry's state: code, dpo, linked (to a verified identity's subject) or pending."""
    verified_groups = {
        group_of(session, crypto, e) for e in entries if e.get("verified") in (BY_CODE, BY_DPO)
    } - {None}
    out = []
    for entry in entries:
        if entry.get("verified") in (BY_CODE, BY_DPO):
            out.append(entry["verified"])
        elif verified_groups and group_of(session, crypto, entry) in verified_groups:
            out.append(LINKED)
        else:
            out.append(PENDING)
    return out


def usable(
    session: Session, crypto: Crypto, entries: list[dict[str, Any]]
) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
    """(identities a run may use, masked descriptions of those left out)."""
    used, left_out = [], []
    for position, (entry, state) in enumerate(zip(entries, states(session, crypto, entries), strict=True)):
        if state == PENDING:
            left_out.append({"position": position, "type": entry["type"], "value": masked(entry["value"])})
        else:
            used.append({"type": entry["type"], "value": entry["value"]})
    return used, left_out


def public(entries: Iterable[dict[str, Any]], entry_states: list[str]) -> list[dict[str, str]]:
    """The identities for the request view: type, value and state, never a code's HMAC."""
    return [
        {"type": e["type"], "value": e["value"], "verification": s}
        for e, s in zip(entries, entry_states, strict=True)
    ]


def masked(value: str) -> str:
    """A value shown in the audit trail: enough to recognise it, not enough to read it."""
    local, at, domain = value.partition("@")
    if at:
        return f"{local[:1]}***@{domain}"
    return f"{value[:1]}***{value[-2:]}" if len(value) > 4 else "***"


def request_identities(ctx: Context, session: Session, request: DsarRequest) -> list[dict[str, Any]] | None:
    """The request's identities with their verification (``verified``); None once unreadable."""
    key = subjects.data_key(session, ctx.crypto, request.subject_id)
    if key is None or request.identities_ct is None:
        return None
    try:
        aad = field_aad(request.subject_id, "dsar_requests", "identities", request.id)
        entries = json.loads(open_sealed(key, request.identities_ct, aad))
    except DecryptionFailed:
        return None
    return normalized(entries, request.verification_method)


def reseal_identities(
    ctx: Context, session: Session, request: DsarRequest, entries: list[dict[str, Any]]
) -> None:
    key = subjects.data_key(session, ctx.crypto, request.subject_id)
    assert key is not None  # read just before, in the same transaction
    aad = field_aad(request.subject_id, "dsar_requests", "identities", request.id)
    request.identities_ct = seal(key, json.dumps(entries).encode(), aad)


def mark(entries: list[dict[str, Any]], positions: Sequence[int], how: str) -> list[int]:
    marked = [n for n in positions if entries[n]["verified"] is None]
    for n in marked:
        entries[n] = entries[n] | {"verified": how}
    return marked


def dpo_positions(entries: list[dict[str, Any]], named: Sequence[int] | None) -> list[int]:
    if named is None:
        return list(range(len(entries)))
    bad = [n for n in named if not 0 <= n < len(entries)]
    if bad:
        raise InvalidInput(
            "no such identity in this request",
            errors={"identities": [f"positions run from 0 to {len(entries) - 1}; not {bad}"]},
        )
    return list(dict.fromkeys(named))


def code_positions(ctx: Context, request: DsarRequest, entries: list[dict[str, Any]], code: str) -> list[int]:
    """The pending e-mail identities this code was sent to (an older request: its first one)."""
    if not any("code" in e for e in entries):  # the caller checks the code against dsar_verifications
        return [next(n for n, e in enumerate(entries) if e["type"] == "email")]
    key = ctx.crypto.material.index_key
    return [
        n
        for n, e in enumerate(entries)
        if e["verified"] is None
        and "code" in e
        and hmac.compare_digest(e["code"], code_hash(key, request.id, n, code))
    ]
