"""Appending to and verifying an audit log.

Each named log (``vault``, ...) is its own SHA-256 chain: ``hash[n]`` covers log, seq, time,
actor, action, subject, details and ``hash[n-1]``. Appends lock the log's head row, so
concurrent writers never fork a log; entries are never updated or deleted (database triggers).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from consent_service.auditlog.models import AuditEntry, AuditHead
from consent_service.context import Context
from consent_service.hashing import canonical_json
from consent_service.ledger.chain import VerifyReport
from consent_service.ledger.models import GENESIS_HASH

_ENSURE_HEAD = {
    "sqlite": text("INSERT OR IGNORE INTO audit_heads (log, seq, hash) VALUES (:log, 0, :genesis)"),
    "postgresql": text(
        "INSERT INTO audit_heads (log, seq, hash) VALUES (:log, 0, :genesis) ON CONFLICT (log) DO NOTHING"
    ),
}
_HEAD = text("SELECT seq, hash FROM audit_heads WHERE log = :log")
_HEAD_FOR_UPDATE = text("SELECT seq, hash FROM audit_heads WHERE log = :log FOR UPDATE")
_INSERT = insert(AuditEntry)
_MOVE = text("UPDATE audit_heads SET seq = :seq, hash = :hash WHERE log = :log")


def entry_digest(entry: dict[str, Any]) -> str:
    recorded = entry["recorded_at"]
    if recorded.tzinfo is None:
        recorded = recorded.replace(tzinfo=dt.UTC)
    doc = {
        "log": entry["log"],
        "seq": entry["seq"],
        "recorded_at": recorded.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": entry["actor"],
        "action": entry["action"],
        "subject_id": entry["subject_id"],
        "details": entry["details"],
        "prev_hash": entry["prev_hash"],
    }
    return hashlib.sha256(canonical_json(doc)).hexdigest()


def recorder(ctx: Context, log: str, actor: str) -> Callable[[Session, str, dict[str, Any]], None]:
    """A hook that appends ``(action, details)`` to ``log`` as ``actor`` in the caller's
    transaction: what a lower layer (the registry) is given to say who changed it."""

    def record(session: Session, action: str, details: dict[str, Any]) -> None:
        append(session, log, actor=actor, action=action, details=details, now=ctx.now())

    return record


def append(
    session: Session,
    log: str,
    *,
    actor: str,
    action: str,
    details: dict[str, Any],
    now: dt.datetime,
    subject_id: str | None = None,
) -> dict[str, Any]:
    """Append one entry to ``log`` in the caller's transaction; returns it with seq and hash."""
    dialect = session.get_bind().dialect.name
    head_stmt = _HEAD if dialect == "sqlite" else _HEAD_FOR_UPDATE
    head = session.execute(head_stmt, {"log": log}).first()
    if head is None:  # a new log: create its head once (a concurrent creator is fine)
        session.execute(_ENSURE_HEAD[dialect], {"log": log, "genesis": GENESIS_HASH})
        head = session.execute(head_stmt, {"log": log}).one()
    seq, prev = head
    entry = {
        "log": log,
        "seq": int(seq) + 1,
        "recorded_at": now,
        "actor": actor,
        "action": action,
        "subject_id": subject_id,
        "details": details,
        "prev_hash": prev,
    }
    entry["hash"] = entry_digest(entry)
    session.execute(_INSERT, entry)
    session.execute(_MOVE, {"seq": entry["seq"], "hash": entry["hash"], "log": log})
    return entry


def entries(session: Session, log: str, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.log == log, AuditEntry.seq > after)
        .order_by(AuditEntry.seq)
        .limit(limit)
    )
    return [
        {
            "seq": r.seq,
            "recorded_at": r.recorded_at,
            "actor": r.actor,
            "action": r.action,
            "subject_id": r.subject_id,
            "details": r.details,
            "hash": r.hash,
        }
        for r in rows
    ]


def verify(session: Session, log: str) -> VerifyReport:
    """Walk the log in order: every link and hash, then the stored head."""
    report = VerifyReport()
    expected, prev = 1, GENESIS_HASH
    last = 0
    while True:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.log == log, AuditEntry.seq > last)
            .order_by(AuditEntry.seq)
            .limit(5000)
        ).all()
        if not rows:
            break
        for row in rows:
            entry = {
                c: getattr(row, c)
                for c in (
                    "log",
                    "seq",
                    "recorded_at",
                    "actor",
                    "action",
                    "subject_id",
                    "details",
                    "prev_hash",
                )
            }
            report.events_checked += 1
            if row.seq != expected:
                report.fail(expected, f"entry missing (next stored is {row.seq})")
            if row.prev_hash != prev:
                report.fail(row.seq, "link to the previous entry is broken")
            if entry_digest(entry) != row.hash:
                report.fail(row.seq, "content does not match its hash (modified)")
            prev, expected = row.hash, row.seq + 1
            report.head_seq, report.head_hash = row.seq, row.hash
        last = rows[-1].seq
    head = session.execute(_HEAD, {"log": log}).first()
    head_seq, head_hash = (int(head[0]), head[1]) if head else (0, GENESIS_HASH)
    if (head_seq, head_hash) != (report.head_seq, report.head_hash):
        report.fail(min(head_seq, report.head_seq) + 1, "stored head does not match the last entry")
    return report


def chain_status(ctx: Context) -> list[dict[str, Any]]:
    """Every audit log, by name, with the result of walking its chain (``verify``): entries,
    head hash, whether it holds and where it first breaks. Read-only."""
    out = []
    with ctx.uow(write=False) as uow:
        for log in uow.session.scalars(select(AuditHead.log).order_by(AuditHead.log)):
            report = verify(uow.session, log)
            out.append(
                {
                    "log": log,
                    "entries": report.events_checked,
                    "head_hash": report.head_hash,
                    "ok": report.ok,
                    "first_bad_seq": report.first_bad_seq,
                    "problem": report.problem,
                }
            )
    return out
