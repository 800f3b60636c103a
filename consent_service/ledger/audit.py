"""Auditing the ledger: full-chain verification and signed checkpoints of its head.

A checkpoint is ``{ledger, seq, head_hash, created_at}`` signed with Ed25519; anyone with the
public key can check it (``consent-service ledger check-checkpoint``), and ``verify`` checks that
every stored checkpoint still matches the chain, which catches a rewritten or truncated ledger
even by someone who recomputed all hashes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.signing import verify_signed
from consent_service.ledger.chain import ChainVerifier, VerifyReport
from consent_service.ledger.models import Checkpoint, LedgerEvent, LedgerHead
from consent_service.ledger.state_check import projection_mismatches

LEDGER_NAME = "consent_service"
VERIFY_CHUNK = 5000


def checkpoint_payload(seq: int, head_hash: str, created_at: dt.datetime, key_id: str) -> dict[str, Any]:
    return {
        "ledger": LEDGER_NAME,
        "seq": seq,
        "head_hash": head_hash,
        "created_at": created_at.astimezone(dt.UTC).isoformat(),
        "key_id": key_id,
    }


def verify_session(
    session: Session, ctx: Context, progress: Callable[[int, int], None] | None = None
) -> VerifyReport:
    head = session.get(LedgerHead, 1)
    assert head is not None, "migrations create the ledger head"
    checkpoints = session.scalars(select(Checkpoint).order_by(Checkpoint.seq)).all()
    verifier = ChainVerifier()
    verifier.want_hashes_at(c.seq for c in checkpoints)
    columns = list(LedgerEvent.__table__.columns)
    last = 0
    while True:
        rows = (
            session.execute(
                select(*columns).where(LedgerEvent.seq > last).order_by(LedgerEvent.seq).limit(VERIFY_CHUNK)
            )
            .mappings()
            .all()
        )
        if not rows:
            break
        for row in rows:
            verifier.feed(row)
        last = rows[-1]["seq"]
        if progress:
            progress(last, head.seq)
    report = verifier.finish(head.seq, head.hash)
    public_key = ctx.signer.public_key()
    for cp in checkpoints:
        report.checkpoints_checked += 1
        doc = {
            "payload": checkpoint_payload(cp.seq, cp.head_hash, cp.created_at, cp.key_id),
            "signature": {"value": cp.signature},
        }
        if not verify_signed(doc, public_key):
            report.fail(cp.seq, "checkpoint signature does not verify")
        elif verifier.hash_at.get(cp.seq) != cp.head_hash:
            report.fail(cp.seq, "ledger no longer matches a signed checkpoint (rewritten or truncated)")
    report.fail_state(projection_mismatches(session))
    return report


def verify(ctx: Context, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
    """Walk the whole chain in order, check every stored checkpoint, and check that the
    projection (``consent_state``) equals the fold of the events, naming every row that does not."""
    with ctx.uow(write=False) as uow:
        return verify_session(uow.session, ctx, progress)


def latest_checkpoint(ctx: Context) -> dict[str, Any]:
    """Sign the current head (recording the checkpoint if the head moved) and return it."""
    with ctx.uow() as uow:
        session = uow.session
        head = session.get(LedgerHead, 1)
        assert head is not None
        existing = session.get(Checkpoint, head.seq)
        if existing is not None and existing.head_hash == head.hash:
            payload = checkpoint_payload(
                existing.seq, existing.head_hash, existing.created_at, existing.key_id
            )
            return ctx.signer.sign(payload)
        now = ctx.now()
        payload = checkpoint_payload(head.seq, head.hash, now, ctx.signer.key_id)
        doc = ctx.signer.sign(payload)
        if existing is None:
            session.add(
                Checkpoint(
                    seq=head.seq,
                    head_hash=head.hash,
                    created_at=now,
                    key_id=ctx.signer.key_id,
                    signature=doc["signature"]["value"],
                )
            )
            uow.commit()
        return doc
