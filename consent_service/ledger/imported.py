"""Writing decisions imported from another consent platform to the ledger.

Guarantees of ``record_imported``:
- one call is one transaction: the batch's events, their proof keys, the projection and what
  the caller writes with them (``within``) land together or not at all;
- events are appended under the ledger head's lock like any other (``service.append``); their
  ``recorded_at`` is the time of the import, the platform's own time is ``recorded_at_source``,
  so the ledger order is never rewritten; channel ``import``, ``source`` the platform;
- proofs are sealed under a fresh proof key per event, wrapped by the subject's data key, exactly
  as for recorded consent (``service.seal_proof``);
- a subject whose key was destroyed (erased) gets no new events: its decisions are counted as
  ``erased`` and skipped, an import never brings an erased person back;
- ``fresh`` runs under the lock and drops the decisions written before (the import's
  idempotency), so two runs of the same file at once still write each decision once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.durations import add_duration
from consent_service.hashing import canonical_json
from consent_service.ledger import checkpoints, projection
from consent_service.ledger.service import (
    DecisionInput,
    append,
    insert_proof_keys,
    lock_head,
    mark_collected,
    seal_proof,
    targets,
    truncate_ip,
)
from consent_service.subjects import service as subjects
from consent_service.subjects.service import IdentityRef


@dataclass(frozen=True)
class ImportedDecision:
    key: str  # the caller's idempotency key
    identity: IdentityRef
    target_type: str
    target_key: str
    decision: str  # granted | denied | withdrawn
    recorded_at_source: dt.datetime
    method: str
    collection_point: str | None = None
    language: str | None = None
    proof: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportedBatch:
    written: int = 0
    erased: int = 0
    subjects_created: int = 0


def record_imported(
    ctx: Context,
    items: Sequence[ImportedDecision],
    *,
    source: str,
    actor_type: str,
    actor_id: str,
    fresh: Callable[[Session, Sequence[ImportedDecision]], Sequence[ImportedDecision]],
    within: Callable[[Session, list[tuple[ImportedDecision, dict[str, Any]]]], None],
) -> ImportedBatch:
    """Append one event per decision not written before; see the module docstring."""
    result = ImportedBatch()
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.now()
        head = lock_head(session)
        todo = fresh(session, items)
        if not todo:
            return result
        purposes, cookies = targets(session, [DecisionInput(i.target_type, i.target_key, True) for i in todo])
        keys: dict[tuple[str, str], tuple[str, bytes | None]] = {}
        written: list[tuple[ImportedDecision, dict[str, Any]]] = []
        proof_keys = []
        for item in todo:
            ref = (item.identity.type, item.identity.value)
            if ref not in keys:
                subject_id, created = subjects.get_or_create(session, ctx.crypto, item.identity, now)
                result.subjects_created += created
                keys[ref] = (subject_id, subjects.data_key(session, ctx.crypto, subject_id))
            subject_id, key = keys[ref]
            if key is None:
                result.erased += 1
                continue
            purpose_key = item.target_key if item.target_type == "purpose" else cookies[item.target_key]
            purpose = purposes[purpose_key]
            proof = dict(item.proof)
            if proof.get("ip"):
                proof["ip"] = truncate_ip(str(proof["ip"]))
            event_id = str(uuid.uuid4())
            target = DecisionInput(item.target_type, item.target_key, item.decision == "granted")
            proof_key_row, proof_ct = seal_proof(
                key, subject_id, event_id, target, now, canonical_json(proof)
            )
            proof_keys.append(proof_key_row)
            validity = purpose["consent_validity"]
            written.append(
                (
                    item,
                    {
                        "id": event_id,
                        "kind": "consent",
                        "subject_id": subject_id,
                        "target_type": item.target_type,
                        "target_key": item.target_key,
                        "purpose_key": purpose_key,
                        "decision": item.decision,
                        "purpose_version": purpose["current_version"],
                        "purpose_hash": purpose["current_hash"],
                        "channel": "import",
                        "method": item.method,
                        "collection_point": item.collection_point,
                        "language": item.language,
                        "jurisdiction": None,
                        "recorded_at": now,
                        # consent lasts from when it was given, not from when it was imported
                        "valid_until": add_duration(item.recorded_at_source, validity) if validity else None,
                        "actor_type": actor_type,
                        "actor_id": actor_id,
                        "related_subject_id": None,
                        "related_event_id": None,
                        "recorded_at_source": item.recorded_at_source,
                        "source": source,
                        "proof_ct": proof_ct,
                    },
                )
            )
        if not written:
            uow.commit()
            return result
        rows = [row for _, row in written]
        new_head = append(session, head, rows)
        insert_proof_keys(session, proof_keys)
        mark_collected(session, purposes, now)
        # the last decision per subject and target is the current one; one upsert row each
        latest = {(r["subject_id"], r["target_type"], r["target_key"]): r for r in rows}
        projection.upsert(session, [projection.state_row(r) for r in latest.values()])
        within(session, written)
        uow.commit()
    result.written = len(rows)
    checkpoints.nudge(ctx, head[0], new_head[0])
    return result
