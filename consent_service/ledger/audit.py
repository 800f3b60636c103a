"""Auditing the ledger: full-chain verification against signed checkpoints and the projection.

A checkpoint is ``{ledger, seq, head_hash, created_at}`` signed with Ed25519 (see
``checkpoints``); anyone with the public key can check it (``consent-service ledger
check-checkpoint``). ``verify`` checks that every stored checkpoint, and every checkpoint of a
file kept elsewhere (``--checkpoints``), still matches the chain. That catches a rewritten or
truncated ledger even by someone who recomputed all hashes and removed the stored checkpoints,
and an event appended after a checkpoint with a date before it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.signing import verify_signed
from consent_service.ledger.chain import ChainVerifier, VerifyReport
from consent_service.ledger.checkpoints import LEDGER_NAME, checkpoint_payload, latest_checkpoint
from consent_service.ledger.models import Checkpoint, LedgerEvent, LedgerHead
from consent_service.ledger.state_check import projection_mismatches

__all__ = [
    "LEDGER_NAME",
    "LedgerAudit",
    "checkpoint_payload",
    "latest_checkpoint",
    "verify",
    "verify_session",
]

VERIFY_CHUNK = 5000


@dataclass(frozen=True)
class _Signed:
    where: str  # "stored checkpoint" or "checkpoint file line N"
    seq: int
    head_hash: str
    created_at: dt.datetime


def _from_file(
    report: VerifyReport, lines: Iterable[tuple[int, dict[str, Any] | None]], public_key: Ed25519PublicKey
) -> list[_Signed]:
    """The valid signed checkpoints of a file; a line that is not one is a defect of its own."""
    out = []
    for number, doc in lines:
        where = f"checkpoint file line {number}"
        payload = doc.get("payload") if doc else None
        try:
            if not isinstance(payload, dict) or payload.get("ledger") != LEDGER_NAME:
                raise ValueError("not a checkpoint of this ledger")
            seq, head_hash = int(payload["seq"]), str(payload["head_hash"])
            created_at = dt.datetime.fromisoformat(payload["created_at"])
        except (KeyError, TypeError, ValueError):
            report.fail(0, f"{where} is not a checkpoint of this ledger")
            continue
        report.checkpoints_checked += 1
        if doc is None or not verify_signed(doc, public_key):
            report.fail(seq, f"{where}: signature does not verify")
            continue
        out.append(_Signed(where, seq, head_hash, created_at))
    return out


class LedgerAudit:
    """A whole-ledger verification that can go in batches, each in its own transaction.

    ``begin`` reads the stored head and the signed checkpoints (the stored ones and those of a
    file kept elsewhere); ``feed`` checks a batch of events in ``seq`` order; ``conclude`` checks
    the end of the chain against the head, every checkpoint against the hashes seen, and the
    projection. ``step`` and ``finish`` do the reading for a session. Batches read in separate
    transactions are sound because events are append-only; ``finish`` reads the events that
    arrived since the last batch in the same transaction as the head it compares them with.
    """

    def __init__(self, head_seq: int, signed: list[_Signed], report: VerifyReport) -> None:
        self.total = head_seq  # the head when the verification began: the progress bar's end
        self.signed = signed
        self.verifier = ChainVerifier()
        self.verifier.report = report
        self.verifier.want_hashes_at(s.seq for s in signed)
        self.verifier.signed_at((s.seq, s.created_at) for s in signed)
        self.last_seq = 0

    @property
    def report(self) -> VerifyReport:
        return self.verifier.report

    @property
    def checked(self) -> int:
        return self.report.events_checked

    @classmethod
    def begin(
        cls,
        session: Session,
        ctx: Context,
        external: Iterable[tuple[int, dict[str, Any] | None]] = (),
        public_key: Ed25519PublicKey | None = None,
    ) -> LedgerAudit:
        head = session.get(LedgerHead, 1)
        assert head is not None, "migrations create the ledger head"
        report = VerifyReport()
        key = public_key or ctx.signer.public_key()
        signed = []
        for cp in session.scalars(select(Checkpoint).order_by(Checkpoint.seq)):
            report.checkpoints_checked += 1
            doc = {
                "payload": checkpoint_payload(cp.seq, cp.head_hash, cp.created_at, cp.key_id),
                "signature": {"value": cp.signature},
            }
            if verify_signed(doc, ctx.signer.public_key()):
                signed.append(_Signed("stored checkpoint", cp.seq, cp.head_hash, cp.created_at))
            else:
                report.fail(cp.seq, "checkpoint signature does not verify")
        signed += _from_file(report, external, key)
        return cls(head.seq, signed, report)

    def feed(self, rows: Sequence[Mapping[Any, Any]]) -> None:
        """Check a batch of events, the next ones in ``seq`` order."""
        for row in rows:
            self.verifier.feed(row)
        if rows:
            self.last_seq = int(rows[-1]["seq"])

    def step(self, session: Session, limit: int) -> bool:
        """Check the next ``limit`` events; False when there were none left."""
        rows = _events_after(session, self.last_seq, limit)
        self.feed(rows)
        return bool(rows)

    def conclude(self, head_seq: int, head_hash: str, mismatches: list[dict[str, Any]]) -> VerifyReport:
        """After the last event: the stored head, the checkpoints and the projection's rows."""
        self.total = max(self.total, head_seq)
        report = self.verifier.finish(head_seq, head_hash)
        for s in self.signed:
            if s.seq > report.head_seq:
                report.fail(
                    s.seq,
                    f"the ledger ends at seq {report.head_seq} but the {s.where} covers seq {s.seq} "
                    "(truncated: events removed)",
                )
            elif self.verifier.hash_at.get(s.seq) != s.head_hash:
                report.fail(s.seq, f"ledger no longer matches the {s.where} (rewritten or truncated)")
        report.fail_state(mismatches)
        return report

    def finish(self, session: Session, limit: int = VERIFY_CHUNK) -> VerifyReport:
        """Check what is left, then conclude with the head of this same transaction."""
        head = session.get(LedgerHead, 1)
        assert head is not None, "migrations create the ledger head"
        while self.step(session, limit):
            pass
        return self.conclude(head.seq, head.hash, projection_mismatches(session))


def _events_after(session: Session, after: int, limit: int) -> Sequence[Mapping[Any, Any]]:
    columns = list(LedgerEvent.__table__.columns)
    return (
        session.execute(
            select(*columns).where(LedgerEvent.seq > after).order_by(LedgerEvent.seq).limit(limit)
        )
        .mappings()
        .all()
    )


def verify_session(
    session: Session,
    ctx: Context,
    progress: Callable[[int, int], None] | None = None,
    external: Iterable[tuple[int, dict[str, Any] | None]] = (),
    public_key: Ed25519PublicKey | None = None,
) -> VerifyReport:
    audit = LedgerAudit.begin(session, ctx, external, public_key)
    while audit.step(session, VERIFY_CHUNK):
        if progress:
            progress(audit.last_seq, audit.total)
    return audit.finish(session)


def verify(
    ctx: Context,
    progress: Callable[[int, int], None] | None = None,
    *,
    checkpoints: Iterable[tuple[int, dict[str, Any] | None]] = (),
    public_key: Ed25519PublicKey | None = None,
) -> VerifyReport:
    """Walk the whole chain in order, check every stored checkpoint and those of ``checkpoints``
    (lines of a checkpoint file kept elsewhere, checked with ``public_key`` or the service's
    key), and check that the projection (``consent_state``) equals the fold of the events,
    naming every row that does not."""
    with ctx.uow(write=False) as uow:
        return verify_session(uow.session, ctx, progress, checkpoints, public_key)
