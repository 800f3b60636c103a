"""Crypto-shredding: make a subject's personal data unreadable everywhere by destroying its key.

Shredding covers the subject's whole linked group (a device linked to a customer is the same
person). In one transaction: every member's wrapped data key is destroyed, its identities lose
their blind index (so old identities no longer resolve), and a ``shredded`` event per member is
appended to the ledger. Ledger hashes cover ciphertext, so the chain stays valid. Other
processes stop decrypting at once, because every read fetches the wrapped key (see
``subjects.service.data_key``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, select, text
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.db import UTCDateTime
from consent_service.erasure import holds
from consent_service.erasure.models import LegalHold
from consent_service.errors import Conflict
from consent_service.ledger.service import append, lock_head
from consent_service.ledger.suppressions import remember_erased
from consent_service.subjects import service as subjects

_DESTROY_KEY = text(
    "UPDATE subject_keys SET wrapped_key = NULL, shredded_at = :now "
    "WHERE subject_id = :sid AND wrapped_key IS NOT NULL"
).bindparams(bindparam("now", type_=UTCDateTime()))
_FORGET_IDENTITIES = text("UPDATE identities SET blind_index = NULL WHERE subject_id = :sid")


def subject_holds(session: Session, members: list[str], now: dt.datetime) -> list[LegalHold]:
    """The legal holds in force on any of ``members`` (one linked group)."""
    return list(
        session.scalars(
            select(LegalHold)
            .where(LegalHold.subject_id.in_(members), holds.in_force(now))
            .order_by(LegalHold.key)
        )
    )


def shred_subject(
    ctx: Context,
    subject_id: str,
    *,
    actor_type: str,
    actor_id: str,
    only_if: Callable[[Session, str], bool] | None = None,
) -> dict[str, Any]:
    """Destroy the data keys of the subject's linked group; idempotent.

    ``only_if(session, root_id)``, checked in the shred's transaction under the ledger head lock,
    can call the shred off (the result then has ``called_off: True`` and nothing changed).
    """
    with ctx.uow() as uow:
        session = uow.session
        subjects.require_subject(session, subject_id)
        head = lock_head(session)
        root = subjects.root_of(session, subject_id)
        assert root is not None
        if only_if is not None and not only_if(session, root):
            return {"subject_id": subject_id, "shredded_subjects": [], "called_off": True}
        members = sorted(subjects.group_members(session, root))
        now = ctx.now()
        holding = subject_holds(session, members, now)
        if holding:
            raise Conflict(
                # The hold's reason is sealed under the subject's key: GET /v1/holds/<key> reads it.
                f"subject {subject_id} is under legal hold {holding[0].key!r}; "
                "its data cannot be erased until the hold ends or is released",
                extra={"holds": [{"key": h.key} for h in holding]},
            )
        destroyed = []
        for member in members:
            # the address hashes outlive the key, so erased people stay on suppression lists
            remember_erased(session, ctx.crypto, member, now)
            result = cast(CursorResult[Any], session.execute(_DESTROY_KEY, {"sid": member, "now": now}))
            if result.rowcount:
                destroyed.append(member)
            session.execute(_FORGET_IDENTITIES, {"sid": member})
        rows = [
            {
                "id": str(uuid.uuid4()),
                "kind": "shredded",
                "subject_id": member,
                "recorded_at": now,
                "actor_type": actor_type,
                "actor_id": actor_id,
            }
            for member in destroyed
        ]
        if rows:
            append(session, head, rows)
        uow.commit()
    for member in members:
        ctx.crypto.cache.purge(member)
    return {
        "subject_id": subject_id,
        "shredded_subjects": destroyed,
        "already_shredded": not destroyed,
        "shredded_at": now,
        "events": [{"id": r["id"], "seq": r["seq"], "subject_id": r["subject_id"]} for r in rows],
    }
