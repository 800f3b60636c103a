"""The auditor bundle: a directory an auditor checks offline with ``consent-service-verify
bundle`` (``consent_verify.bundle``), with the selected ledger events, proofs that each is a
leaf of the log's latest signed checkpoint, the earlier checkpoints that first held them and
proofs that the latest extends each of them.

``export`` first grows the tree to the ledger's head (``tree.extend``), then reads the latest
checkpoint and, in the same read transaction, the events and proofs against it, so that the
bundle is one consistent view even while the ledger is being written. Its files are described
in ``consent_verify.bundle`` and in the README written into the bundle.

What a leaf holds: the event's canonical bytes (``chain.HASHED_FIELDS``): opaque ids (the
subject's ``sub_…`` id, a linked subject's, the event's, the API client's or staff member's),
the purpose or cookie key, decision, version and hash, channel, method, collection point,
language, jurisdiction, times, and the proof of consent only as ``proof_ct``, ciphertext under
the subject's own key. No name, e-mail address or other identity is in a leaf: those live in
the identity vault, outside the ledger. Crypto-shredding destroys the subject's key and rewrites
no event, so every leaf, hash and proof of a bundle stays valid after it.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.errors import InvalidInput, NotFound
from consent_service.ledger import chain, tree
from consent_service.ledger.models import LedgerEvent, LedgerTreeCheckpoint
from consent_service.subjects import service as subjects

FORMAT = "consent-ledger-bundle/1"
PAGE = 1_000  # events read per query
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Selection:
    """Which events a bundle holds: a subject's (and its linked subjects'), those recorded in
    ``[since, until)``, or both at once."""

    subject_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None


def parse_when(value: str, name: str, *, end: bool = False) -> dt.datetime:
    """An ISO date or date-time (UTC unless it says otherwise). A date as the end of a range
    stands for the whole day: the range ends at the next midnight."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None:
        when = dt.datetime.combine(day, dt.time(), dt.UTC)
        return when + dt.timedelta(days=1) if end else when
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"'{name}' is not an ISO date or date-time",
            errors={name: ["e.g. 2026-05-01 or 2026-05-01T12:00:00Z"]},
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InvalidInput(f"{out} is a file, not a directory", errors={"out": ["a new or empty directory"]})
    if out.is_dir() and any(out.iterdir()):
        raise InvalidInput(
            f"{out} is not empty: a bundle is written into a new or empty directory",
            errors={"out": ["a new or empty directory"]},
        )
    out.mkdir(parents=True, exist_ok=True)


def _condition(session: Session, selection: Selection) -> tuple[ColumnElement[bool], list[str]]:
    e = LedgerEvent
    parts: list[ColumnElement[bool]] = []
    members: list[str] = []
    if selection.subject_id is not None:
        subjects.require_subject(session, selection.subject_id)
        root = subjects.root_of(session, selection.subject_id)
        members = sorted(subjects.group_members(session, root)) if root else [selection.subject_id]
        parts.append(or_(e.subject_id.in_(members), e.related_subject_id.in_(members)))
    if selection.since is not None:
        parts.append(e.recorded_at >= selection.since)
    if selection.until is not None:
        parts.append(e.recorded_at < selection.until)
    return and_(*parts), members


def _pages(session: Session, condition: ColumnElement[bool], size: int) -> Iterator[list[Any]]:
    """The selected events up to seq ``size``, in seq order, a page at a time."""
    after = 0
    while True:
        rows = session.execute(
            select(LedgerEvent.__table__)
            .where(condition, LedgerEvent.seq > after, LedgerEvent.seq <= size)
            .order_by(LedgerEvent.seq)
            .limit(PAGE)
        ).all()
        if not rows:
            return
        yield [row._mapping for row in rows]
        after = rows[-1].seq


def _count(session: Session, condition: ColumnElement[bool], size: int) -> int:
    return int(
        session.scalar(
            select(func.count()).select_from(LedgerEvent).where(condition, LedgerEvent.seq <= size)
        )
        or 0
    )


def export(
    ctx: Context, out: Path, selection: Selection, *, progress: Progress | None = None, every: int = 1_000
) -> dict[str, Any]:
    """Write the bundle of ``selection`` into ``out`` (a new or empty directory); returns its
    manifest. ``progress(done, total)`` is called every ``every`` events and at the end."""
    if selection.subject_id is None and selection.since is None and selection.until is None:
        raise InvalidInput(
            "select the events: a subject, a time range or both", errors={"subject": ["required"]}
        )
    if selection.since and selection.until and selection.since >= selection.until:
        raise InvalidInput("'from' is not before 'to'", errors={"from": ["a time before 'to'"]})
    _prepare(out)
    tree.extend(ctx)
    origin = tree.origin(ctx)
    with ctx.uow(write=False) as uow:
        session = uow.session
        condition, members = _condition(session, selection)
        latest = session.scalars(
            select(LedgerTreeCheckpoint).order_by(LedgerTreeCheckpoint.size.desc()).limit(1)
        ).first()
        if latest is None:
            raise NotFound("the log has no checkpoint yet: its tree is empty")
        size, note = int(latest.size), str(latest.note)
        signed = list(session.scalars(select(LedgerTreeCheckpoint.size).order_by(LedgerTreeCheckpoint.size)))
        total = _count(session, condition, size)
        covering: set[int] = set()
        done = 0
        with (out / "events.jsonl").open("w", encoding="utf-8") as events:
            for page in _pages(session, condition, size):
                indexes = [int(event["seq"]) - 1 for event in page]
                for event, index, path in zip(
                    page, indexes, tree.inclusion_paths(session, indexes, size), strict=True
                ):
                    line = {
                        "seq": index + 1,
                        "leaf_index": index,
                        "leaf": _b64(chain.canonical_bytes(event)),
                        "hash": event["hash"],
                        "inclusion_path": [_b64(h) for h in path],
                    }
                    events.write(json.dumps(line, separators=(",", ":")) + "\n")
                    covering.add(signed[bisect.bisect_left(signed, index + 1)])
                    done += 1
                    if progress and done % every == 0:
                        progress(done, total)
        if progress:
            progress(done, total)
        (out / "checkpoints").mkdir()
        notes = dict(
            session.execute(
                select(LedgerTreeCheckpoint.size, LedgerTreeCheckpoint.note).where(
                    LedgerTreeCheckpoint.size.in_(sorted(covering))
                )
            ).all()
        )
        root = tree.root_of(session, size)
        with (out / "consistency.jsonl").open("w", encoding="utf-8") as proofs:
            for old in sorted(covering):
                (out / "checkpoints" / f"{old}.note").write_text(notes[old], encoding="utf-8")
                if old == size:
                    continue
                proof = {
                    "from": old,
                    "to": size,
                    "old_root_hash": _b64(tree.root_of(session, old)),
                    "new_root_hash": _b64(root),
                    "consistency_path": [_b64(h) for h in tree.consistency_path(session, old, size)],
                }
                proofs.write(json.dumps(proof, separators=(",", ":")) + "\n")
    (out / "checkpoint.note").write_text(note, encoding="utf-8")
    key = tree.verifier_key(ctx)
    (out / "log-key.txt").write_text(key + "\n", encoding="utf-8")
    chosen: dict[str, Any] = {}
    if selection.subject_id is not None:
        chosen.update(subject=selection.subject_id, subjects=members)
    if selection.since is not None:
        chosen["from"] = selection.since.isoformat()
    if selection.until is not None:
        chosen["to"] = selection.until.isoformat()
    (out / "README.md").write_text(readme(origin, size, done, len(covering), chosen), encoding="utf-8")
    files = sorted(p for p in out.rglob("*") if p.is_file())
    manifest = {
        "format": FORMAT,
        "origin": origin,
        "selection": chosen,
        "counts": {"events": done, "checkpoints": len(covering)},
        "tree_size": size,
        "root_hash": _b64(root),
        "exported_at": ctx.now().isoformat(),
        "files": {p.relative_to(out).as_posix(): _sha256(p) for p in files},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def readme(origin: str, size: int, events: int, checkpoints: int, selection: dict[str, Any]) -> str:
    """The bundle's README for the auditor."""
    if "subject" in selection:
        chosen = f"the events of subject `{selection['subject']}` and of the subjects linked to it"
        if len(selection["subjects"]) > 1:
            chosen += f" ({', '.join(f'`{s}`' for s in selection['subjects'])})"
    else:
        chosen = "the events"
    if "from" in selection or "to" in selection:
        chosen += (
            f" recorded from {selection.get('from', 'the start')} until before {selection.get('to', 'now')}"
        )
    return f"""# Auditor bundle of the consent ledger `{origin}`

This directory holds {chosen}: {events} ledger events, with proofs that each is an entry of the
log's Merkle tree of {size} entries (RFC 9162), as its signed checkpoint states it.

## Files

- `events.jsonl`: one event a line: `seq`, `leaf_index` (= seq - 1), `leaf` (base64 of the
  event's canonical JSON, the bytes of its Merkle leaf), `hash` (SHA-256 hex of those bytes, the
  event's hash in the ledger's chain) and `inclusion_path` (its audit path to `checkpoint.note`).
- `checkpoint.note`: the log's latest checkpoint when the bundle was made (c2sp.org/tlog-checkpoint
  in a c2sp.org/signed-note, Ed25519): origin, tree size, root hash. Every proof leads to it.
- `checkpoints/`: the earlier checkpoints that first held the events ({checkpoints} of them), and
  `consistency.jsonl`: per checkpoint the RFC 9162 proof that the latest tree extends it.
- `log-key.txt`: the log's verifier key, as the log states it. Obtain the key independently as
  well (`GET /v1/ledger/key` of the service, or the key the controller published) and compare.
- `manifest.json`: the origin, the selection, the counts, the tree size and root, when it was
  exported, and the SHA-256 of every other file.

A leaf holds opaque ids (the subject's `sub_…` id, the event's, the recording client's or staff
member's), the purpose or cookie, the decision, its version and hash, channel, method, language,
jurisdiction and times. The proof of consent is in it only as `proof_ct`, ciphertext under the
subject's own key. No name or e-mail address is in it.

## How to verify

With `consent-service-verify` (Python 3.11 and `cryptography`, nothing else; it needs no network),
in this directory, with the log's key obtained independently (and witnesses' keys if the log
has them):

    consent-service-verify bundle . --log-key '<the log key>' [--witness '<witness key>' ...] [--quorum K]

Without `--log-key` it takes the key of `log-key.txt` and warns that the key should be obtained
independently: the bundle alone cannot prove who made it.

It checks the files against the manifest, the signature of `checkpoint.note` and its origin, each
event's leaf against its hash and its inclusion path against the checkpoint, that consecutive
events are chained, that every earlier checkpoint is signed and that the latest is consistent
with it. It prints one line per check and exits 0 when all pass, 1 when one fails.

## What a pass proves, and what it does not

A pass proves that the log's key signed a tree of {size} entries whose entries at these positions
are exactly these events, byte for byte, and that this tree extends each earlier checkpoint: the
events were in the log since then and were neither changed nor taken out. Anyone holding an
older checkpoint of this log can check it against the same tree (`consent-service-verify
consistency`).

It does not prove that the log showed everyone the same tree (a split view): that needs the
checkpoint cosigned by independent witnesses (`--witness`) or compared with checkpoints others
hold. It does not prove that the bundle holds every event of the selection (the log chose them),
nor that a decision was truly the person's own choice: it proves what was recorded, and when.

Erasure by crypto-shredding destroys the subject's key and rewrites no event: the leaves, hashes
and proofs of this bundle stay valid after it, and `proof_ct` can then no longer be decrypted.
"""
