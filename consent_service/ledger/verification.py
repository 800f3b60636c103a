"""Verifications of the whole ledger that run in the background and report their progress.

``start`` records a verification (``ledger_verifications``) and hands it to the task queue wired
into the context (``VERIFIER``, set by ``consent_service.jobs.install``), or runs it here and now
when none is; while one is queued or running, ``start`` returns that one instead of a second.
``execute`` walks the chain with ``audit.LedgerAudit`` in batches of ``BATCH`` events, each read
in its own short transaction, and writes ``checked`` of ``total`` after every batch, so that a
page can show the progress and no request waits for the walk. The result is the same report as
``audit.verify`` (chain, checkpoints, projection).

One verification at a time (``consent_service.locks``); a verification whose process died is
recognised by its lock being free and marked ``interrupted``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service import locks
from consent_service.context import Context
from consent_service.db import columns_of
from consent_service.errors import Conflict, NotFound
from consent_service.ledger.audit import LedgerAudit
from consent_service.ledger.chain import VerifyReport
from consent_service.ledger.models import LedgerHead, LedgerVerification

VERIFY_LOCK = "ledger-verification"  # one verification at a time
VERIFIER = "ledger-verifier"  # ctx.caches key: Callable[[Context, str], None] that queues a verification
BATCH = 1000  # events per transaction and progress update
GOING = ("queued", "running")
QUEUED_AT_MOST = dt.timedelta(minutes=15)  # a verification queued longer was lost with its queue

Progress = Callable[[int, int], None]


def percent(checked: int, total: int) -> int:
    """Whole percent done, 0..100; an empty ledger is done at once."""
    if total <= 0:
        return 100 if checked >= total else 0
    return max(0, min(100, 100 * checked // total))


def view(row: LedgerVerification) -> dict[str, Any]:
    """The verification as the API and the console show it (the full report last)."""
    out = columns_of(row, exclude=("report",))
    return out | {"percent": percent(row.checked, row.total), "report": row.report}


def _mark_interrupted(ctx: Context) -> None:
    """Verifications left ``running`` by a process that is gone, and those queued so long ago
    that no worker took them (an in-memory queue lost with its process); call with the lock held."""
    with ctx.uow() as uow:
        stale = uow.session.scalars(
            select(LedgerVerification).where(
                (LedgerVerification.state == "running")
                | (
                    (LedgerVerification.state == "queued")
                    & (LedgerVerification.started_at < ctx.now() - QUEUED_AT_MOST)
                )
            )
        )
        for row in stale:
            row.state, row.finished_at = "interrupted", ctx.now()
            row.error = "the process running it stopped before the end"
        uow.commit()


def _going(session: Session) -> LedgerVerification | None:
    return session.scalars(
        select(LedgerVerification)
        .where(LedgerVerification.state.in_(GOING))
        .order_by(LedgerVerification.started_at.desc())
        .limit(1)
    ).first()


def create(ctx: Context, *, started_by: str) -> tuple[dict[str, Any], bool]:
    """Record a queued verification of the ledger as it is now; when one is already queued or
    running, that one instead. Returns the verification and whether it is new."""
    with locks.exclusive(ctx.db, VERIFY_LOCK) as free:
        if free:
            _mark_interrupted(ctx)
    now = ctx.now()
    with ctx.uow() as uow:
        going = _going(uow.session)
        if going is not None:
            return view(going), False
        head = uow.session.get(LedgerHead, 1)
        assert head is not None, "migrations create the ledger head"
        row = LedgerVerification(
            id=str(uuid.uuid4()),
            state="queued",
            started_by=started_by,
            started_at=now,
            heartbeat_at=now,
            total=head.seq,
            checked=0,
            report={},
        )
        uow.session.add(row)
        uow.commit()
        return view(row), True


def start(ctx: Context, *, started_by: str) -> dict[str, Any]:
    """Start a verification of the whole ledger in the background (``VERIFIER``), or here and
    now when no queue is wired; returns it as it is then. While one is queued or running, that
    one is returned and nothing new is started."""
    verification, new = create(ctx, started_by=started_by)
    if not new:
        return verification
    runner = ctx.caches.get(VERIFIER)
    if runner is None:
        return execute(ctx, verification["id"])
    runner(ctx, verification["id"])
    return get(ctx, verification["id"])


def _progress(ctx: Context, verification_id: str, audit: LedgerAudit) -> None:
    with ctx.uow() as uow:
        row = uow.session.get(LedgerVerification, verification_id)
        assert row is not None
        row.checked, row.total, row.heartbeat_at = audit.checked, max(audit.total, audit.checked), ctx.now()
        uow.commit()


def _walk(
    ctx: Context,
    verification_id: str,
    *,
    batch_size: int,
    progress: Progress | None,
    external: Iterable[tuple[int, dict[str, Any] | None]],
    public_key: Ed25519PublicKey | None,
) -> tuple[LedgerAudit, VerifyReport]:
    with ctx.uow(write=False) as uow:
        audit = LedgerAudit.begin(uow.session, ctx, external, public_key)
    while True:
        with ctx.uow(write=False) as uow:
            more = audit.step(uow.session, batch_size)
        if not more or audit.last_seq >= audit.total:
            break
        _progress(ctx, verification_id, audit)
        if progress:
            progress(audit.last_seq, audit.total)
    with ctx.uow(write=False) as uow:
        report = audit.finish(uow.session, batch_size)
    if progress:
        progress(audit.last_seq, audit.total)
    return audit, report


def execute(
    ctx: Context,
    verification_id: str,
    *,
    batch_size: int | None = None,
    progress: Progress | None = None,
    external: Iterable[tuple[int, dict[str, Any] | None]] = (),
    public_key: Ed25519PublicKey | None = None,
) -> dict[str, Any]:
    """Run a queued verification to its end, recording its progress after every batch."""
    with locks.exclusive(ctx.db, VERIFY_LOCK) as free:
        if not free:
            raise Conflict("a verification of the ledger is in progress")
        with ctx.uow() as uow:
            row = uow.session.get(LedgerVerification, verification_id)
            if row is None:
                raise NotFound(f"no ledger verification {verification_id!r}")
            if row.state != "queued":
                raise Conflict(f"verification {verification_id} is {row.state}")
            row.state, row.heartbeat_at = "running", ctx.now()
            uow.commit()
        try:
            audit, report = _walk(
                ctx,
                verification_id,
                batch_size=batch_size or BATCH,
                progress=progress,
                external=external,
                public_key=public_key,
            )
        except Exception as exc:
            _finish(ctx, verification_id, None, f"{type(exc).__name__}: {exc}"[:1000])
            raise
        return _finish(ctx, verification_id, (audit, report), None)


def _finish(
    ctx: Context, verification_id: str, result: tuple[LedgerAudit, VerifyReport] | None, error: str | None
) -> dict[str, Any]:
    with ctx.uow() as uow:
        row = uow.session.get(LedgerVerification, verification_id)
        assert row is not None
        now = ctx.now()
        row.finished_at = row.heartbeat_at = now
        if result is None:
            row.state, row.error = "failed", error
        else:
            audit, report = result
            row.state, row.ok, row.first_bad_seq, row.problem = (
                "completed",
                report.ok,
                report.first_bad_seq,
                report.problem,
            )
            row.checked, row.total = report.events_checked, max(audit.total, report.events_checked)
            row.report = report.as_dict() | {"details": report.details[:100]}
        uow.commit()
        return view(row)


def run_now(
    ctx: Context,
    *,
    started_by: str,
    progress: Progress | None = None,
    external: Iterable[tuple[int, dict[str, Any] | None]] = (),
    public_key: Ed25519PublicKey | None = None,
) -> dict[str, Any]:
    """Record and execute a verification in this process (the CLI); Conflict while one goes."""
    verification, new = create(ctx, started_by=started_by)
    if not new:
        raise Conflict(f"verification {verification['id']} of the ledger is {verification['state']}")
    return execute(ctx, verification["id"], progress=progress, external=external, public_key=public_key)


def get(ctx: Context, verification_id: str) -> dict[str, Any]:
    with ctx.uow(write=False) as uow:
        row = uow.session.get(LedgerVerification, verification_id)
        if row is None:
            raise NotFound(f"no ledger verification {verification_id!r}")
        return view(row)


def latest(ctx: Context) -> dict[str, Any] | None:
    """The verification started last (running or done), or None when there was none."""
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(
            select(LedgerVerification).order_by(LedgerVerification.started_at.desc()).limit(1)
        ).first()
        return view(row) if row else None


def last_completed(ctx: Context) -> dict[str, Any] | None:
    """The latest verification that ran to its end (its result is the ledger's last known state)."""
    with ctx.uow(write=False) as uow:
        row = uow.session.scalars(
            select(LedgerVerification)
            .where(LedgerVerification.state == "completed")
            .order_by(LedgerVerification.finished_at.desc())
            .limit(1)
        ).first()
        return view(row) if row else None


def head(ctx: Context) -> dict[str, Any]:
    """The ledger's head: how many events it holds and the hash of the last one."""
    with ctx.uow(write=False) as uow:
        row = uow.session.get(LedgerHead, 1)
        assert row is not None, "migrations create the ledger head"
        return {"seq": row.seq, "hash": row.hash}
