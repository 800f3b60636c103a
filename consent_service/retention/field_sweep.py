"""Field triggers (``since_field``, ``last_activity``, ``contract_end``): records whose field is at
or before ``now - period`` are deleted or anonymised in bounded batches, one short transaction
each (``Connector.sweep_batch``). The batch size adapts so a transaction takes about
``TARGET_BATCH_SECONDS``; the longest one is reported. ``crypto_shred`` resolves each due
record's subject by the record's identities and shreds it (the records stay).
"""

from __future__ import annotations

import time
from typing import Any

from consent_service.context import Context
from consent_service.erasure.holds import ActiveHolds
from consent_service.erasure.shred import shred_subject
from consent_service.retention.plan import Target
from consent_service.retention.recorder import Recorder
from consent_service.stores.connectors.base import Connector, Due
from consent_service.stores.spec import CollectionSpec
from consent_service.subjects import service as subjects
from consent_service.subjects.service import IdentityRef

ACTOR = "retention"
BATCH_START = 500
BATCH_MIN, BATCH_MAX = 50, 20_000
# Small enough that an I/O stall (a checkpoint, a WAL flush under load) rarely lifts one
# transaction past 200 ms, large enough that per-batch overhead stays small.
TARGET_BATCH_SECONDS = 0.04


def sweep_fields(
    ctx: Context,
    target: Target,
    connector: Connector,
    exclude: set[Any],
    held: ActiveHolds,
    entry: dict[str, Any],
    dry_run: bool,
    recorder: Recorder,
    batch_size: int | None,
) -> None:
    rule = target.rule
    field = rule.trigger_field
    assert field is not None
    due = Due(field, rule.cutoff(recorder.now), target.actions)
    if dry_run:
        count, held_count = connector.due_count(target.collection, due, sorted(exclude, key=str))
        entry["candidates"], entry["held"] = count + held_count, held_count
        return
    if exclude:
        entry["held"] = connector.due_count(target.collection, due, sorted(exclude, key=str))[1]
        entry["candidates"] += entry["held"]
    if rule.action == "crypto_shred":
        _shred_due_records(ctx, target, connector, due, exclude, held, entry, recorder)
        return
    size, cursor, excluded = batch_size or BATCH_START, None, sorted(exclude, key=str)
    while True:
        started = time.perf_counter()
        batch = connector.sweep_batch(target.collection, due, limit=size, exclude=excluded, cursor=cursor)
        elapsed = time.perf_counter() - started
        entry["batches"] += 1
        entry["longest_transaction_ms"] = max(entry["longest_transaction_ms"], round(elapsed * 1000, 1))
        entry["candidates"] += batch.candidates
        entry["deleted"] += batch.deleted
        entry["anonymised"] += batch.updated
        recorder.tick(f"{rule.key}: {target.store}.{target.collection}", entry)
        if batch.done:
            return
        if batch.cursor is None or batch.cursor == cursor:
            entry["errors"].append(
                "the sweep did not move on (records changed meanwhile?); the next run retries"
            )
            return
        cursor = batch.cursor
        if batch_size is None:  # adapt towards TARGET_BATCH_SECONDS, at most doubling per step
            wanted = int(size * TARGET_BATCH_SECONDS / max(elapsed, 0.001))
            size = max(BATCH_MIN, min(BATCH_MAX, 2 * size, wanted))


def _subject_of(ctx: Context, coll: CollectionSpec, row: dict[str, Any]) -> str | None:
    with ctx.uow(write=False) as uow:
        for itype, field in coll.identities.items():
            value = row.get(field)
            if value is None:
                continue
            subject_id = subjects.resolve(uow.session, ctx.crypto, IdentityRef(itype, str(value)))
            if subject_id is not None:
                return subject_id
    return None


def _shred_due_records(
    ctx: Context,
    target: Target,
    connector: Connector,
    due: Due,
    exclude: set[Any],
    held: ActiveHolds,
    entry: dict[str, Any],
    recorder: Recorder,
) -> None:
    """crypto_shred with a field trigger: shred the subject of every due record (records stay)."""
    coll = connector.collection(target.collection)
    cursor: Any = None
    while True:
        rows, cursor, done = connector.due_rows(
            target.collection, due, limit=BATCH_START, exclude=sorted(exclude, key=str), cursor=cursor
        )
        entry["batches"] += 1
        for row in rows:
            subject_id = _subject_of(ctx, coll, row)
            if subject_id is None:
                continue  # no live subject: never known here, or shredded already
            entry["candidates"] += 1
            if held.for_subject(subject_id):
                entry["held"] += 1
                continue
            result = shred_subject(ctx, subject_id, actor_type="system", actor_id=ACTOR)
            entry["shredded"] += len(result["shredded_subjects"])
        recorder.tick(f"{target.rule.key}: {target.store}.{target.collection}", entry)
        if done:
            return
