"""The sweeper: applies the retention rules to the registered stores and to the service's own data.

A run plans, for every active rule, the (store, collection)s it reaches (``plan``), then for each:

- field triggers (``since_field``, ``last_activity``, ``contract_end``): records whose field is at
  or before ``now - period`` are deleted or anonymised in bounded batches, one short transaction
  each (``Connector.sweep_batch``). The batch size adapts so a transaction takes about
  ``TARGET_BATCH_SECONDS``; the longest one is reported. ``crypto_shred`` resolves each due
  record's subject by the record's identities and shreds it.
- ``consent_ended``: subjects whose consent for the purpose ended that long ago (withdrawn,
  refused or expired, across the linked group) are found in the store by their identities (and
  the references from there), like a data subject request, a few subjects per step.

Legal holds win: a held store or collection is not touched (its due records are counted as
held), and the records of a held subject are excluded from every batch. The same holds for a
collection whose description declares a ``hold``.

Guarantees: every step re-checks its condition in the statement that writes, so a run is
idempotent (a second run finds nothing due) and a run killed at any point leaves only whole
batches behind; running again reaches the same end state without touching anything twice. One
run at a time (a PostgreSQL advisory lock or a lock file next to the SQLite database, held by
the running process: a run whose process died is recognised and marked ``interrupted``).
Progress is saved in ``retention_runs`` as the run goes; the final report is appended to the
tamper-evident ``retention`` audit log.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select, text, update

from consent_service.auditlog import service as auditlog
from consent_service.context import Context
from consent_service.dsar.connectors.base import Connector, Due, MissingField, field_changes
from consent_service.dsar.models import DataStore
from consent_service.dsar.spec import CollectionSpec, StoreSpec, parse_store
from consent_service.dsar.stores import open_connector
from consent_service.dsar.traversal import StoreFailure, traverse
from consent_service.errors import Conflict, NotFound
from consent_service.ledger.models import ConsentState
from consent_service.retention import holds as holds_service
from consent_service.retention.holds import ActiveHolds
from consent_service.retention.models import RetentionRun
from consent_service.retention.rules import (
    FIELD_TRIGGERS,
    Rule,
    active_rules,
    category_matches,
    purpose_categories,
)
from consent_service.subjects import service as subjects
from consent_service.subjects.models import Subject, SubjectKey
from consent_service.subjects.service import IdentityRef
from consent_service.subjects.shred import shred_subject

LOG = "retention"
SWEPT_TYPES = ("sql", "redis")
BATCH_START = 500
BATCH_MIN, BATCH_MAX = 50, 20_000
# Small enough that an I/O stall (a checkpoint, a WAL flush under load) rarely lifts one
# transaction past 200 ms, large enough that per-batch overhead stays small.
TARGET_BATCH_SECONDS = 0.04
SUBJECT_BATCH = 50
SAVE_EVERY_SECONDS = 1.0
ACTOR = "retention"

Progress = Callable[[str, dict[str, Any]], None]


@dataclass
class Target:
    """One rule applied to one collection of one store."""

    rule: Rule
    store: str
    collection: str
    actions: dict[str, str]

    def entry(self, now: dt.datetime) -> dict[str, Any]:
        return {
            "rule": self.rule.key,
            "version": self.rule.version,
            "store": self.store,
            "collection": self.collection,
            "trigger": dict(self.rule.trigger),
            "period": self.rule.period,
            "action": self.rule.action,
            "cutoff": self.rule.cutoff(now).isoformat(),
            "status": "done",
            "candidates": 0,
            "deleted": 0,
            "anonymised": 0,
            "shredded": 0,
            "held": 0,
            "errors": [],
            "batches": 0,
            "longest_transaction_ms": 0.0,
        }


# planning -------------------------------------------------------------------------------------
def _field_filter(session: Any, rule: Rule) -> Callable[[str], bool] | None:
    """Which field categories a rule reaches; None when it is scoped to stores/collections only."""
    category = rule.applies_to.get("category")
    purpose = rule.applies_to.get("purpose")
    if not category and not purpose:
        return None
    reached = purpose_categories(session, purpose) if purpose else []

    def matches(field_category: str) -> bool:
        if category and not category_matches(category, field_category):
            return False
        return not purpose or any(category_matches(c, field_category) for c in reached)

    return matches


def _anonymise_actions(coll: CollectionSpec, reaches: Callable[[str], bool] | None) -> dict[str, str]:
    """The fields' erase actions (``delete`` of a field becomes ``nullify``: the record stays)."""
    out = {}
    for name, spec in coll.fields.items():
        if reaches is not None and not reaches(spec.category):
            continue
        if spec.erase in ("nullify", "mask", "hash"):
            out[name] = spec.erase
        elif spec.erase == "delete":
            out[name] = "nullify"
    return out


def plan(
    session: Any, rules: list[Rule], specs: dict[str, StoreSpec], only_store: str | None = None
) -> tuple[list[Target], list[dict[str, Any]]]:
    """The (rule, store, collection) steps of a run, and what was left out and why."""
    targets: list[Target] = []
    skipped: list[dict[str, Any]] = []
    for rule in rules:
        scope = rule.applies_to
        if rule.action == "crypto_shred" and rule.trigger_type == "consent_ended":
            if not only_store:
                targets.append(Target(rule, "", "", {}))
            continue
        reaches = _field_filter(session, rule)
        reached_any = False
        for key in sorted(specs):
            spec = specs[key]
            if (scope.get("store") and scope["store"] != key) or (only_store and only_store != key):
                continue
            if spec.type not in SWEPT_TYPES:
                if scope.get("store") == key:
                    skipped.append(
                        {"rule": rule.key, "store": key, "reason": f"{spec.type} stores are not swept"}
                    )
                continue
            for name, coll in spec.collections.items():
                if scope.get("collection") and scope["collection"] != name:
                    continue
                if reaches is not None and not any(reaches(f.category) for f in coll.fields.values()):
                    continue
                reached_any = True
                why = None
                actions: dict[str, str] = {"*": "delete"}
                if rule.action == "anonymise":
                    actions = _anonymise_actions(coll, reaches)
                    if not actions:
                        why = "no field of it has an erase action (nullify, mask, hash) to anonymise with"
                elif (
                    rule.action == "crypto_shred"
                    and rule.trigger_type in FIELD_TRIGGERS
                    and not coll.identities
                ):
                    why = "crypto_shred needs the record's identities to find its subject; it declares none"
                if why:
                    skipped.append({"rule": rule.key, "store": key, "collection": name, "reason": why})
                else:
                    targets.append(Target(rule, key, name, actions))
        if not reached_any and not (only_store and scope.get("store") not in (None, only_store)):
            skipped.append(
                {"rule": rule.key, "reason": "no registered collection holds the data it applies to"}
            )
    return targets, skipped


# subject holds → record keys --------------------------------------------------------------------
def _held_records(ctx: Context, store: str, connector: Connector, held: ActiveHolds) -> dict[str, set[Any]]:
    """For each collection of ``store``: the keys of records that belong to a held subject."""
    out: dict[str, set[Any]] = {}
    with ctx.uow(write=False) as uow:
        identity_sets = [_identity_values(ctx, uow.session, [s]) for s in sorted(held.subject_ids)]
    for values in identity_sets:
        found = traverse({store: connector}, values)
        for (_, name), rows in found.rows.items():
            out.setdefault(name, set()).update(connector.record_key(name, r) for r in rows)
    return out


# the run's bookkeeping -----------------------------------------------------------------------
class _Recorder:
    """Keeps the report and saves it (with a heartbeat) at most once a second."""

    def __init__(
        self,
        ctx: Context,
        run_id: str | None,
        report: dict[str, Any],
        progress: Progress | None,
        now: dt.datetime,
    ):
        self.ctx, self.run_id, self.report, self.progress = ctx, run_id, report, progress
        self.now = now  # one moment per run: every period is counted back from it
        self.saved = 0.0

    def tick(self, step: str, entry: dict[str, Any], *, force: bool = False) -> None:
        if self.progress:
            self.progress(step, entry)
        if self.run_id is None or (not force and time.monotonic() - self.saved < SAVE_EVERY_SECONDS):
            return
        with self.ctx.uow() as uow:
            uow.session.execute(
                update(RetentionRun)
                .where(RetentionRun.id == self.run_id)
                .values(report=_json_safe(self.report), heartbeat_at=self.ctx.now())
            )
            uow.commit()
        self.saved = time.monotonic()


def _json_safe(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {str(k): _json_safe(v) for k, v in doc.items()}
    if isinstance(doc, list | tuple):
        return [_json_safe(v) for v in doc]
    if isinstance(doc, dt.datetime):
        return doc.isoformat()
    return doc


# sweeping one target ---------------------------------------------------------------------------
def _sweep_fields(
    ctx: Context,
    target: Target,
    connector: Connector,
    exclude: set[Any],
    held: ActiveHolds,
    entry: dict[str, Any],
    dry_run: bool,
    recorder: _Recorder,
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
    recorder: _Recorder,
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


def ended_subjects(session: Any, purpose: str, cutoff: dt.datetime) -> list[str]:
    """Roots of linked groups whose latest decision on ``purpose`` ended at or before ``cutoff``:
    withdrawn or refused then, or granted but expired then. Groups already shredded are left out."""
    on_purpose = and_(ConsentState.target_type == "purpose", ConsentState.target_key == purpose)
    ended = or_(
        and_(ConsentState.decision.in_(("withdrawn", "denied")), ConsentState.recorded_at <= cutoff),
        and_(ConsentState.decision == "granted", ConsentState.valid_until <= cutoff),
    )
    candidates = list(
        session.scalars(
            select(Subject.root_id)
            .distinct()
            .join(ConsentState, Subject.id == ConsentState.subject_id)
            .join(SubjectKey, SubjectKey.subject_id == Subject.root_id)
            .where(on_purpose, ended, SubjectKey.wrapped_key.is_not(None))
            .order_by(Subject.root_id)
        )
    )
    out: list[str] = []
    for start in range(0, len(candidates), 500):
        chunk = candidates[start : start + 500]
        latest: dict[str, tuple[int, bool]] = {}
        rows = session.execute(
            select(Subject.root_id, ConsentState.seq, ended)
            .join(ConsentState, Subject.id == ConsentState.subject_id)
            .where(on_purpose, Subject.root_id.in_(chunk))
        )
        for root, seq, is_ended in rows:  # the group's latest decision decides, as in the gate
            if root not in latest or seq > latest[root][0]:
                latest[root] = (seq, bool(is_ended))
        out.extend(root for root in chunk if latest.get(root, (0, False))[1])
    return out


def _identity_values(ctx: Context, session: Any, subject_ids: list[str]) -> dict[str, list[str]]:
    """Identity type -> values of these subjects, as the connectors look records up; subjects
    shredded already are left out (nothing of them can be found any more)."""
    values: dict[str, list[str]] = {}
    for subject_id in subject_ids:
        if subjects.data_key(session, ctx.crypto, subject_id) is None:
            continue
        for ident in subjects.identities_of(session, ctx.crypto, subject_id):
            values.setdefault(ident["type"], []).append(ident["value"])
    return values


def _has_live_consent(session: Any, root: str, now: dt.datetime) -> bool:
    row = session.execute(
        select(ConsentState.subject_id)
        .join(Subject, Subject.id == ConsentState.subject_id)
        .where(
            Subject.root_id == root,
            ConsentState.decision == "granted",
            or_(ConsentState.valid_until.is_(None), ConsentState.valid_until > now),
        )
        .limit(1)
    ).first()
    return row is not None


def _sweep_consent_ended(
    ctx: Context,
    target: Target,
    connector: Connector,
    held: ActiveHolds,
    entry: dict[str, Any],
    dry_run: bool,
    recorder: _Recorder,
) -> None:
    rule = target.rule
    roots = _ended_roots(ctx, rule, recorder.now)
    entry["subjects"] = len(roots)
    assert connector is not None
    coll = connector.collection(target.collection)
    for start in range(0, len(roots), SUBJECT_BATCH):
        for root in roots[start : start + SUBJECT_BATCH]:
            with ctx.uow(write=False) as uow:
                identities = _identity_values(ctx, uow.session, subjects.group_members(uow.session, root))
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
        return ended_subjects(uow.session, purpose, rule.cutoff(now))


def _shred_ended(
    ctx: Context, target: Target, held: ActiveHolds, entry: dict[str, Any], dry_run: bool, recorder: _Recorder
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
            live = _has_live_consent(uow.session, root, now)
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


def _names_collection(rule: Rule) -> bool:
    """True when the rule is scoped to stores or collections only (not to categories or purposes)."""
    scope = rule.applies_to
    return bool(scope.get("collection")) or not (scope.get("category") or scope.get("purpose"))


def _sweep_target(
    ctx: Context,
    target: Target,
    connector: Connector | None,
    held: ActiveHolds,
    held_records: dict[str, set[Any]],
    dry_run: bool,
    recorder: _Recorder,
    batch_size: int | None = None,
) -> dict[str, Any]:
    entry = target.entry(recorder.now)
    if connector is None:  # crypto_shred after consent ended: subjects, not records
        _shred_ended(ctx, target, held, entry, dry_run, recorder)
        recorder.tick(f"{target.rule.key}: subjects", entry, force=True)
        return entry
    coll = connector.collection(target.collection)
    holds = holds_service.brief(held.for_collection(target.store, target.collection))
    if coll.hold is not None:
        holds.append({"key": "store description", "reason": coll.hold.reason, "basis": coll.hold.basis})
    try:
        if holds:
            entry["status"], entry["held_by"] = "held", holds
            if target.rule.trigger_type in FIELD_TRIGGERS:
                assert target.rule.trigger_field is not None
                due = Due(target.rule.trigger_field, target.rule.cutoff(recorder.now), target.actions)
                count = connector.due_count(target.collection, due)[0]
                entry["candidates"] = entry["held"] = count
            return entry
        if target.rule.trigger_type in FIELD_TRIGGERS:
            exclude = held_records.get(target.collection, set())
            if exclude:
                entry["held_by"] = holds_service.brief(held.subject_holds)
            _sweep_fields(ctx, target, connector, exclude, held, entry, dry_run, recorder, batch_size)
        else:
            _sweep_consent_ended(ctx, target, connector, held, entry, dry_run, recorder)
    except MissingField as exc:
        if _names_collection(target.rule):
            entry["status"] = "failed"
            entry["errors"].append(f"{exc} (the rule's trigger field)")
        else:  # a rule on a category or purpose reaches collections without its field: not for them
            entry.pop("held_by", None)
            entry["status"] = "not_applicable"
            entry["note"] = f"{exc}: the rule's trigger field is not there, so the rule does not apply"
    except StoreFailure as exc:
        entry["status"] = "failed"
        entry["errors"].append(exc.error)
    except Exception as exc:  # noqa: BLE001 - one store's failure is reported, the others still run
        entry["status"] = "failed"
        entry["errors"].append(f"{type(exc).__name__}: {exc}"[:500])
    recorder.tick(f"{target.rule.key}: {target.store}.{target.collection}", entry, force=True)
    return entry


# a whole run -----------------------------------------------------------------------------------
def _specs(ctx: Context) -> dict[str, StoreSpec]:
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(select(DataStore).order_by(DataStore.key)).all()
        return {r.key: parse_store(r.key, {**r.spec, "connection": _placeholder(r.type)}) for r in rows}


def _placeholder(kind: str) -> dict[str, str]:
    """A syntactically valid connection: planning needs the description, not the secret."""
    return {
        "sql": {"url": "sqlite://"},
        "redis": {"url": "redis://localhost"},
        "http": {"endpoint": "https://localhost", "secret": "x" * 16},
    }.get(kind, {})


def sweep(
    ctx: Context,
    *,
    dry_run: bool,
    store: str | None = None,
    run_id: str | None = None,
    progress: Progress | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Apply every active rule (and, without ``store``, the service's own retention); the report.

    ``batch_size`` fixes the records per transaction; by default it adapts so that a transaction
    takes about ``TARGET_BATCH_SECONDS``."""
    from consent_service.retention.own_data import sweep_own_data

    now = ctx.now()
    specs = _specs(ctx)
    if store is not None and store not in specs:
        raise NotFound(f"no store {store!r} is registered")
    with ctx.uow(write=False) as uow:
        rules = active_rules(uow.session)
        targets, skipped = plan(uow.session, rules, specs, store)
        held = holds_service.active(uow.session, now)
    report: dict[str, Any] = {
        "dry_run": dry_run,
        "store": store,
        "now": now.isoformat(),
        "rules": [],
        "skipped": skipped,
        "holds": holds_service.brief(held.holds),
    }
    recorder = _Recorder(ctx, run_id, report, progress, now)
    by_store: dict[str, list[Target]] = {}
    for target in targets:
        if not target.store:
            report["rules"].append(_sweep_target(ctx, target, None, held, {}, dry_run, recorder))
            continue
        by_store.setdefault(target.store, []).append(target)
    for key, store_targets in by_store.items():
        with ExitStack() as stack:
            try:
                connector = stack.enter_context(open_connector(ctx, key))
                held_records = _held_records(ctx, key, connector, held) if held.subject_ids else {}
            except Exception as exc:  # noqa: BLE001 - an unreachable store fails its steps only
                for target in store_targets:
                    entry = target.entry(now) | {
                        "status": "failed",
                        "errors": [f"{type(exc).__name__}: {exc}"[:500]],
                    }
                    report["rules"].append(entry)
                continue
            for target in store_targets:
                report["rules"].append(
                    _sweep_target(ctx, target, connector, held, held_records, dry_run, recorder, batch_size)
                )
    if store is None:

        def own_progress(step: str, done: int) -> None:
            recorder.tick(f"service data: {step}", {"done": done})

        report["service"] = sweep_own_data(ctx, now=now, dry_run=dry_run, held=held, progress=own_progress)
    report["totals"] = {
        name: sum(e.get(name, 0) for e in report["rules"])
        for name in ("candidates", "deleted", "anonymised", "shredded", "held")
    }
    report["totals"]["errors"] = sum(len(e["errors"]) for e in report["rules"])
    return _json_safe(report)


def preview(ctx: Context, store: str | None = None) -> dict[str, Any]:
    """What a run would do now: a dry run that is not recorded."""
    return sweep(ctx, dry_run=True, store=store)


# runs: one at a time -----------------------------------------------------------------------------
_LOCK_NUMBER = int.from_bytes(hashlib.sha256(b"retention-run").digest()[:8], "big", signed=True)


@contextmanager
def _run_lock(ctx: Context) -> Iterator[bool]:
    """Held by the process that runs a sweep; yields False when another process holds it."""
    if ctx.db.is_sqlite:
        database = ctx.db.engine.url.database or ""
        path = Path(database + "-retention.lock") if database and database != ":memory:" else None
        if path is None:
            yield True
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
        return
    with ctx.db.engine.connect() as conn:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:n)"), {"n": _LOCK_NUMBER}).scalar())
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:n)"), {"n": _LOCK_NUMBER})
                conn.commit()


def run_view(run: RetentionRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "state": run.state,
        "dry_run": run.dry_run,
        "store": run.store,
        "started_by": run.started_by,
        "started_at": run.started_at,
        "heartbeat_at": run.heartbeat_at,
        "finished_at": run.finished_at,
        "error": run.error,
        "audit_seq": run.audit_seq,
        "report": run.report,
    }


def _mark_interrupted(ctx: Context) -> list[str]:
    """Runs left ``running`` or ``queued`` by a process that is gone (call with the run lock held)."""
    with ctx.uow() as uow:
        stale = uow.session.scalars(select(RetentionRun).where(RetentionRun.state == "running")).all()
        for run in stale:
            run.state, run.finished_at = "interrupted", ctx.now()
            run.error = "the process running it stopped; a later run finished the work"
            auditlog.append(
                uow.session,
                LOG,
                actor=run.started_by,
                action="run_interrupted",
                details={"run_id": run.id, "progress": run.report},
                now=ctx.now(),
            )
        uow.commit()
    return [r.id for r in stale]


def create_run(ctx: Context, *, dry_run: bool, store: str | None, started_by: str) -> dict[str, Any]:
    """Record a queued run; Conflict while another run is in progress."""
    with _run_lock(ctx) as free:
        if not free:
            raise Conflict("a retention run is in progress; wait for it to finish")
        _mark_interrupted(ctx)
    if store is not None:
        with ctx.uow(write=False) as uow:
            if uow.session.get(DataStore, store) is None:
                raise NotFound(f"no store {store!r} is registered")
    now = ctx.now()
    run = RetentionRun(
        id=str(uuid.uuid4()),
        state="queued",
        dry_run=dry_run,
        store=store,
        started_by=started_by,
        started_at=now,
        heartbeat_at=now,
        report={},
    )
    with ctx.uow() as uow:
        uow.session.add(run)
        uow.commit()
    return run_view(run)


def execute_run(
    ctx: Context, run_id: str, *, progress: Progress | None = None, batch_size: int | None = None
) -> dict[str, Any]:
    """Run a queued run to its end; the final report goes to the ``retention`` audit log."""
    with _run_lock(ctx) as free:
        if not free:
            raise Conflict("a retention run is in progress; wait for it to finish")
        _mark_interrupted(ctx)
        with ctx.uow() as uow:
            run = uow.session.get(RetentionRun, run_id)
            if run is None:
                raise NotFound(f"no retention run {run_id!r}")
            if run.state not in ("queued", "interrupted"):
                raise Conflict(f"run {run_id} is {run.state}")
            run.state, run.heartbeat_at = "running", ctx.now()
            dry_run, store, actor = run.dry_run, run.store, run.started_by
            uow.commit()
        try:
            report = sweep(
                ctx, dry_run=dry_run, store=store, run_id=run_id, progress=progress, batch_size=batch_size
            )
        except Exception as exc:
            _finish(ctx, run_id, actor, "failed", {}, f"{type(exc).__name__}: {exc}"[:1000])
            raise
        return _finish(ctx, run_id, actor, "completed", report, None)


def _finish(
    ctx: Context, run_id: str, actor: str, state: str, report: dict[str, Any], error: str | None
) -> dict[str, Any]:
    with ctx.uow() as uow:
        run = uow.session.get(RetentionRun, run_id)
        assert run is not None
        now = ctx.now()
        action = ("dry_run_" if run.dry_run else "run_") + state
        entry = auditlog.append(
            uow.session,
            LOG,
            actor=actor,
            action=action,
            details={"run_id": run_id, "error": error, "report": report or run.report},
            now=now,
        )
        run.state, run.finished_at, run.heartbeat_at, run.error = state, now, now, error
        if report:
            run.report = report
        run.audit_seq = entry["seq"]
        uow.commit()
        return run_view(run)


def run_now(
    ctx: Context,
    *,
    dry_run: bool,
    store: str | None,
    started_by: str,
    progress: Progress | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """Create and execute a run in this process (the CLI, the schedule, an API call without a queue)."""
    run = create_run(ctx, dry_run=dry_run, store=store, started_by=started_by)
    return execute_run(ctx, run["id"], progress=progress, batch_size=batch_size)


def get_run(ctx: Context, run_id: str) -> dict[str, Any]:
    with ctx.uow(write=False) as uow:
        run = uow.session.get(RetentionRun, run_id)
        if run is None:
            raise NotFound(f"no retention run {run_id!r}")
        out = run_view(run)
        if run.audit_seq is not None:
            logged = auditlog.entries(uow.session, LOG, after=run.audit_seq - 1, limit=1)
            out["log"] = {"log": LOG, "seq": run.audit_seq, "hash": logged[0]["hash"] if logged else None}
        return out


def list_runs(ctx: Context, *, limit: int = 50) -> list[dict[str, Any]]:
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(select(RetentionRun).order_by(RetentionRun.started_at.desc()).limit(limit))
        return [run_view(r) | {"report": {"totals": r.report.get("totals")}} for r in rows]


def due_for_schedule(ctx: Context, interval: dt.timedelta) -> bool:
    """True when no real (not dry) run started within ``interval``."""
    with ctx.uow(write=False) as uow:
        last = uow.session.scalar(
            select(RetentionRun.started_at)
            .where(
                RetentionRun.dry_run.is_(False), RetentionRun.state.in_(("completed", "running", "queued"))
            )
            .order_by(RetentionRun.started_at.desc())
            .limit(1)
        )
    return last is None or last + interval <= ctx.now()
