"""Suppression lists: SHA-256 hashes of the normalised e-mail addresses that must not be mailed
for a purpose, in the format e-mail platforms take.

A subject is suppressed for a purpose when the gate refuses it for a reason the person gave or
a request set: a refusal, a withdrawal, an objection, a restriction, an erasure (also one kept
under a legal hold). Readable subjects are judged by the gate's own query (``group_states``) and
their addresses hashed on the fly; erased subjects' addresses can no longer be read, so the
shred wrote their hashes to ``suppressed_addresses`` (``remember_erased``) and they come from
there.

Each hash is listed once, and the list is produced chunk by chunk, never held whole: an address
belongs to one readable subject (identities are unique per blind index), a readable subject's
hash that is also kept for an erased one (the person signed up again after an erasure) is left
to the second part, and that part reads the kept hashes in hash order, each once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from consent_service.context import Context
from consent_service.crypto.envelope import ERASED
from consent_service.ledger.gate import PurposeInfo
from consent_service.ledger.group_states import group_states, purpose_info
from consent_service.ledger.models import SuppressedAddress
from consent_service.subjects import service as subjects
from consent_service.subjects.models import Identity

CHUNK = 1000
SUPPRESSING = frozenset({"consent_denied", "consent_withdrawn", "objected", "restricted", "erased", "held"})


def email_hash(address: str) -> str:
    """SHA-256 hex of the address trimmed and lower-cased."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()


def remember_erased(session: Session, crypto: Any, subject_id: str, now: Any) -> int:
    """Keep the hashes of the subject's e-mail addresses for every purpose's suppression list;
    call in the shred's transaction before the key is destroyed. Returns how many were kept."""
    kept = 0
    for identity in subjects.identities_of(session, crypto, subject_id):
        if identity["type"] == "email" and identity["value"] != ERASED:
            session.add(
                SuppressedAddress(
                    email_sha256=email_hash(identity["value"]),
                    purpose_key=None,
                    reason="erased",
                    created_at=now,
                )
            )
            kept += 1
    return kept


def suppressed_hashes(ctx: Context, purpose_key: str) -> Iterator[str]:
    """The purpose's suppression list as a lazy iterator of hashes; raises ``UnknownPurpose`` at
    once (before the first hash is asked for)."""
    with ctx.db.engine.connect() as conn:
        purpose = purpose_info(conn, purpose_key)
        conn.rollback()
    return _hashes(ctx, purpose)


def _hashes(ctx: Context, purpose: PurposeInfo) -> Iterator[str]:
    now = ctx.now()
    after = ""
    while True:
        with ctx.uow(write=False) as uow:
            session = uow.session
            ids = list(
                session.scalars(
                    select(Identity.subject_id)
                    .where(Identity.type == "email", Identity.subject_id > after)
                    .group_by(Identity.subject_id)
                    .order_by(Identity.subject_id)
                    .limit(CHUNK)
                )
            )
            if not ids:
                break
            after = ids[-1]
            states = group_states(session.connection(), purpose, ids)
            out: dict[str, None] = {}
            for subject_id in ids:
                state = states.get(subject_id)
                if state is None or state.erased:  # erased: its hashes come from suppressed_addresses
                    continue
                if state.decide(purpose, now).reason in SUPPRESSING:
                    for identity in subjects.identities_of(session, ctx.crypto, subject_id):
                        if identity["type"] == "email" and identity["value"] != ERASED:
                            out[email_hash(identity["value"])] = None
            if out:
                kept = set(
                    session.scalars(
                        select(SuppressedAddress.email_sha256).where(
                            SuppressedAddress.email_sha256.in_(list(out)), _for(purpose)
                        )
                    )
                )
                for digest in kept:
                    out.pop(digest, None)  # listed with the erased, below
        yield from out
    last = ""
    while True:
        with ctx.uow(write=False) as uow:
            digests = list(
                uow.session.scalars(
                    select(SuppressedAddress.email_sha256)
                    .where(SuppressedAddress.email_sha256 > last, _for(purpose))
                    .group_by(SuppressedAddress.email_sha256)
                    .order_by(SuppressedAddress.email_sha256)
                    .limit(CHUNK)
                )
            )
        if not digests:
            break
        last = digests[-1]
        yield from digests


def _for(purpose: PurposeInfo) -> ColumnElement[bool]:
    """Kept hashes that suppress ``purpose``: those for every purpose and those for it."""
    return or_(SuppressedAddress.purpose_key.is_(None), SuppressedAddress.purpose_key == purpose.key)
