"""Signed checkpoints of the ledger head: made, published outside the database, read back.

A checkpoint is ``{ledger, seq, head_hash, created_at, key_id}`` signed with Ed25519. Every new
checkpoint is stored in ``ledger_checkpoints`` *and* appended, in the same transaction, as one
line of canonical JSON to the checkpoint file (``CONSENT_CHECKPOINT_FILE``, by default
``checkpoints.jsonl`` in the data directory), opened with ``O_APPEND`` and fsynced, so a copy of
that file kept elsewhere lets ``ledger verify --checkpoints`` find a truncated, rewritten or
re-hashed ledger even when the database's own checkpoints were removed with it.

Automatic checkpoints (``auto_checkpoint``) are made by the scheduler, never by a consent write:
one is due when ``CONSENT_CHECKPOINT_EVENTS`` events arrived since the last one, or when
``CONSENT_CHECKPOINT_SECONDS`` passed and the head moved. Two processes never sign the same
checkpoint: on PostgreSQL a transaction-scoped advisory lock is taken (try-lock; the loser skips
the round), on SQLite the write transaction (``BEGIN IMMEDIATE``) is already exclusive. An empty
ledger is never checkpointed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.signing import verify_signed
from consent_service.errors import Conflict
from consent_service.hashing import canonical_json
from consent_service.ledger.models import Checkpoint, LedgerHead

LEDGER_NAME = "consent_service"
NUDGE = "checkpoint-nudge"  # ctx.caches key of the scheduler's wake-up event (a threading.Event)
_LOCK = int.from_bytes(hashlib.sha256(b"ledger-checkpoint").digest()[:8], "big", signed=True)


def checkpoint_payload(seq: int, head_hash: str, created_at: dt.datetime, key_id: str) -> dict[str, Any]:
    return {
        "ledger": LEDGER_NAME,
        "seq": seq,
        "head_hash": head_hash,
        "created_at": created_at.astimezone(dt.UTC).isoformat(),
        "key_id": key_id,
    }


def document(ctx: Context, cp: Checkpoint) -> dict[str, Any]:
    """The signed document of a stored checkpoint (as ``Signer.sign`` returned it)."""
    return {
        "payload": checkpoint_payload(cp.seq, cp.head_hash, cp.created_at, cp.key_id),
        "signature": {
            "alg": "Ed25519",
            "key_id": cp.key_id,
            "public_key": ctx.signer.public_key_b64,
            "value": cp.signature,
        },
    }


def _lock(session: Session, *, wait: bool) -> bool:
    """Hold the checkpoint lock for this transaction; False when another process holds it."""
    if session.get_bind().dialect.name == "sqlite":
        return True  # the writing unit of work began with BEGIN IMMEDIATE
    if wait:
        session.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": _LOCK})
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:n)"), {"n": _LOCK}).scalar())


def _last(session: Session) -> Checkpoint | None:
    return session.scalars(select(Checkpoint).order_by(Checkpoint.seq.desc()).limit(1)).first()


def publish_line(path: Path, doc: dict[str, Any]) -> None:
    """Append ``doc`` as one line with a single ``write`` on an ``O_APPEND`` descriptor, then fsync:
    concurrent appenders never interleave, and the line is on disk before the commit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, canonical_json(doc) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def _record(ctx: Context, session: Session, head: LedgerHead) -> dict[str, Any]:
    now = ctx.now()
    doc = ctx.signer.sign(checkpoint_payload(head.seq, head.hash, now, ctx.signer.key_id))
    session.add(
        Checkpoint(
            seq=head.seq,
            head_hash=head.hash,
            created_at=now,
            key_id=ctx.signer.key_id,
            signature=doc["signature"]["value"],
        )
    )
    session.flush()
    publish_line(ctx.config.effective_checkpoint_file, doc)
    return doc


def latest_checkpoint(ctx: Context) -> dict[str, Any]:
    """Sign the current head (recording and publishing it if the head moved) and return it.

    Raises Conflict on an empty ledger: a checkpoint of nothing proves nothing.
    """
    with ctx.uow() as uow:
        session = uow.session
        _lock(session, wait=True)
        head = session.get(LedgerHead, 1)
        assert head is not None, "migrations create the ledger head"
        if head.seq == 0:
            raise Conflict("the ledger is empty: there is nothing to checkpoint yet")
        existing = session.get(Checkpoint, head.seq)
        if existing is not None:
            # Signatures are deterministic (Ed25519): the stored one is returned as it was made.
            return document(ctx, existing)
        doc = _record(ctx, session, head)
        uow.commit()
    return doc


def due(ctx: Context, head_seq: int, last: Checkpoint | None, now: dt.datetime) -> bool:
    """Whether a new checkpoint is due, by the configured event count or age."""
    config = ctx.config
    last_seq = last.seq if last is not None else 0
    if head_seq <= last_seq:
        return False  # empty ledger, or nothing new since the last checkpoint
    if config.checkpoint_events > 0 and head_seq - last_seq >= config.checkpoint_events:
        return True
    if config.checkpoint_seconds > 0:
        return last is None or now - last.created_at >= dt.timedelta(seconds=config.checkpoint_seconds)
    return False


def auto_checkpoint(ctx: Context) -> dict[str, Any] | None:
    """Make a checkpoint when one is due; returns it, or None (not due, or another process signs).

    The check is two primary-key reads in a read transaction; only a due checkpoint takes the
    write transaction (on SQLite that briefly holds off writers, as any write does).
    """
    with ctx.uow(write=False) as uow:
        head = uow.session.get(LedgerHead, 1)
        assert head is not None
        if not due(ctx, head.seq, _last(uow.session), ctx.now()):
            return None
    with ctx.uow() as uow:
        session = uow.session
        if not _lock(session, wait=False):
            return None
        head = session.get(LedgerHead, 1)
        assert head is not None
        if not due(ctx, head.seq, _last(session), ctx.now()):
            return None  # another process signed it meanwhile
        doc = _record(ctx, session, head)
        uow.commit()
    return doc


def nudge(ctx: Context, before: int, after: int) -> None:
    """Wake this process's ledger thread after a write: the Merkle tree follows every write
    (a receipt's event is in a checkpoint about a second later), the hash chain's checkpoints
    when the write crossed a multiple of the event count (the thread decides that itself).

    The only checkpoint work a write does: setting an event.
    """
    if after > before:
        wake = ctx.caches.get(NUDGE)
        if wake is not None:
            wake.set()


def read_file(path: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    """(line number, signed document) per non-empty line; None for a line that is not JSON."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError:
                yield number, None
                continue
            yield number, doc if isinstance(doc, dict) else None


def recent(ctx: Context, limit: int = 5) -> list[dict[str, Any]]:
    """The latest stored checkpoints, newest first, each with whether its signature verifies
    under the service's key (read-only: nothing is signed)."""
    key = ctx.signer.public_key()
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(select(Checkpoint).order_by(Checkpoint.seq.desc()).limit(limit)).all()
        return [
            {
                "seq": cp.seq,
                "head_hash": cp.head_hash,
                "created_at": cp.created_at,
                "key_id": cp.key_id,
                "signature_ok": verify_signed(document(ctx, cp), key),
            }
            for cp in rows
        ]
