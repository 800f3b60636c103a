"""``consent_ended`` triggers: subjects whose consent for the rule's purpose ended that long ago
(withdrawn, refused or expired, across the linked group; ``ledger.lapsed`` finds them) are found
in the store by their identities (and the references from there), like a data subject request, a
few subjects per step; or, for ``crypto_shred``, shredded unless held or still consenting.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from consent_service.context import Context
from consent_service.erasure.holds import ActiveHolds
from consent_service.erasure.shred import shred_subject
from consent_service.ledger import lapsed
from consent_service.retention.field_sweep import ACTOR
from consent_service.retention.plan import Target
from consent_service.retention.recorder import Recorder
from consent_service.retention.rules import Rule
from consent_service.stores.connectors.base import Connector, field_changes
from consent_service.stores.spec import CollectionSpec
from consent_service.stores.traversal import traverse
from consent_service.subjects import service as subjects

SUBJECT_BATCH = 50


def identity_values(ctx: Context, session: Any, subject_ids: list[str]) -> dict[str, list[str]]:
    """Identity type -> values of these subjects, as the connectors look records up; subjects
    shredded already are left out (nothing of them can be found any more)."""
    values: dict[str, list[str]] = {}
    for subject_id in subject_ids:
        if subjects.data_key(session, ctx.crypto, subject_id) is None:
            continue
        for ident in subjects.identities_of(session, ctx.crypto, subject_id):
            values.setdefault(ident["type"], []).append(ident["value"])
    return values


def sweep_consent_ended(
    ctx: Context,
    target: Target,
    connector: Connector,
    held: ActiveHolds,
    entry: dict[str, Any],
    dry_run: bool,
    recorder: Recorder,
) -> None:
    rule = target.rule
    roots = _ended_roots(ctx, rule, recorder.now)
    entry["subjects"] = len(roots)
    assert connector is not None
    coll = connector.collection(target.collection)
    for start in range(0, len(roots), SUBJECT_BATCH):
        for root in roots[start : start + SUBJECT_BATCH]:
            with ctx.uow(write=False) as uow:
                identities = identity_values(ctx, uow.session, subjects.group_members(uow.session, root))
            found = traverse({target.store: connector}, identities)
            rows = found.rows.get((target.store, target.collection), [])
            if rule.action == "anonymise":
                rows = [r for r in rows if _needs(coll, r, target.actions, connector)]
            if not rows:
                continue
            entry["candidates"] += len(rows)
            if held.for_subject(root):
                entry["held"] += len(rows)
                continue
            if dry_run:
                continue
            started = time.perf_counter()
            result = connector.erase(target.collection, rows, target.actions)
            elapsed = time.perf_counter() - started
            entry["longest_transaction_ms"] = max(entry["longest_transaction_ms"], round(elapsed * 1000, 1))
            entry["deleted"] += result.deleted
            entry["anonymised"] += result.updated
        entry["batches"] += 1
        recorder.tick(f"{rule.key}: {target.store}.{target.collection}", entry)


def _ended_roots(ctx: Context, rule: Rule, now: dt.datetime) -> list[str]:
    purpose = rule.consent_purpose
    assert purpose is not None
    with ctx.uow(write=False) as uow:
        return lapsed.ended_groups(uow.session, purpose, rule.cutoff(now))


def shred_ended(
    ctx: Context, target: Target, held: ActiveHolds, entry: dict[str, Any], dry_run: bool, recorder: Recorder
) -> None:
    """crypto_shred after consent ended: shred each such subject, unless it is held or still has a
    live consent to another purpose (then its key is still needed)."""
    now = recorder.now
    roots = _ended_roots(ctx, target.rule, now)
    entry["subjects"] = entry["candidates"] = len(roots)
    entry["kept_live_consent"] = 0
    for index, root in enumerate(roots, 1):
        if held.for_subject(root):
            entry["held"] += 1
            continue
        with ctx.uow(write=False) as uow:
            live = lapsed.has_live_consent(uow.session, root, now)
        if live:
            entry["kept_live_consent"] += 1
            continue
        if not dry_run:
            shredded = shred_subject(ctx, root, actor_type="system", actor_id=ACTOR)["shredded_subjects"]
            entry["shredded"] += len(shredded)
        if index % SUBJECT_BATCH == 0:
            entry["batches"] += 1
            recorder.tick(f"{target.rule.key}: subjects", entry)


def _needs(coll: CollectionSpec, row: dict[str, Any], actions: dict[str, str], connector: Connector) -> bool:
    return bool(field_changes(coll, row, actions, getattr(connector, "hash_key", b"")))
