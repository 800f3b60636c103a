"""The sweeper: applies the retention rules to the registered stores and to the service's own data.

A sweep plans, for every active rule, the (store, collection)s it reaches (``plan``), then for
each: field triggers (``field_sweep``) or ``consent_ended`` (``ended``); the service's own data
last (``own_data``). ``sweep_stores`` is the part on the registered stores: it opens each through
``ctx.open_store``, so it runs on fake connectors too. Runs, their lock and their bookkeeping are in ``runs`` and ``recorder``.

Legal holds win: a held store or collection is not touched (its due records are counted as
held), and the records of a held subject are excluded from every batch. The same holds for a
collection whose description declares a ``hold``.

Guarantees: every step re-checks its condition in the statement that writes, so a run is
idempotent (a second run finds nothing due) and a run killed at any point leaves only whole
batches behind; running again reaches the same end state without touching anything twice.
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from sqlalchemy import select

from consent_service.context import Context
from consent_service.erasure import holds as holds_service
from consent_service.erasure.holds import ActiveHolds
from consent_service.errors import NotFound
from consent_service.retention.ended import identity_values, shred_ended, sweep_consent_ended
from consent_service.retention.field_sweep import sweep_fields
from consent_service.retention.plan import Target, plan
from consent_service.retention.recorder import Progress, Recorder, json_safe
from consent_service.retention.rules import FIELD_TRIGGERS, Rule, active_rules
from consent_service.stores.connectors.base import Connector, Due, MissingField
from consent_service.stores.models import DataStore
from consent_service.stores.spec import StoreSpec, parse_store
from consent_service.stores.traversal import StoreFailure, traverse

LOG = "retention"


def _held_records(ctx: Context, store: str, connector: Connector, held: ActiveHolds) -> dict[str, set[Any]]:
    """For each collection of ``store``: the keys of records that belong to a held subject."""
    out: dict[str, set[Any]] = {}
    with ctx.uow(write=False) as uow:
        identity_sets = [identity_values(ctx, uow.session, [s]) for s in sorted(held.subject_ids)]
    for values in identity_sets:
        found = traverse({store: connector}, values)
        for (_, name), rows in found.rows.items():
            out.setdefault(name, set()).update(connector.record_key(name, r) for r in rows)
    return out


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
    recorder: Recorder,
    batch_size: int | None = None,
) -> dict[str, Any]:
    entry = target.entry(recorder.now)
    if connector is None:  # crypto_shred after consent ended: subjects, not records
        shred_ended(ctx, target, held, entry, dry_run, recorder)
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
            sweep_fields(ctx, target, connector, exclude, held, entry, dry_run, recorder, batch_size)
        else:
            sweep_consent_ended(ctx, target, connector, held, entry, dry_run, recorder)
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


def _specs(ctx: Context) -> dict[str, StoreSpec]:
    with ctx.uow(write=False) as uow:
        rows = uow.session.scalars(select(DataStore).order_by(DataStore.key)).all()
        return {
            r.key: parse_store(r.key, {**r.spec, "connection": _placeholder(r.type)}, identity_types=None)
            for r in rows
        }


def _placeholder(kind: str) -> dict[str, str]:
    """A syntactically valid connection: planning needs the description, not the secret."""
    return {
        "sql": {"url": "sqlite://"},
        "redis": {"url": "redis://localhost"},
        "http": {"endpoint": "https://localhost", "secret": "x" * 16},
    }.get(kind, {})


def sweep_stores(
    ctx: Context,
    targets: list[Target],
    held: ActiveHolds,
    recorder: Recorder,
    *,
    dry_run: bool,
    batch_size: int | None = None,
) -> list[dict[str, Any]]:
    """Sweep the targets in registered stores (the others are left out), each store opened once
    through ``ctx.open_store``; an unreachable store fails its steps only. Each entry is added to
    the recorder's report (``rules``) as it is done, so saved progress shows it; returns them."""
    entries: list[dict[str, Any]] = recorder.report.setdefault("rules", [])
    by_store: dict[str, list[Target]] = {}
    for target in targets:
        if target.store:
            by_store.setdefault(target.store, []).append(target)
    for key, store_targets in by_store.items():
        with ExitStack() as stack:
            try:
                connector = stack.enter_context(ctx.open_store(key))
                held_records = _held_records(ctx, key, connector, held) if held.subject_ids else {}
            except Exception as exc:  # noqa: BLE001 - an unreachable store fails its steps only
                for target in store_targets:
                    entry = target.entry(recorder.now) | {
                        "status": "failed",
                        "errors": [f"{type(exc).__name__}: {exc}"[:500]],
                    }
                    entries.append(entry)
                continue
            for target in store_targets:
                entries.append(
                    _sweep_target(ctx, target, connector, held, held_records, dry_run, recorder, batch_size)
                )
    return entries


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
    recorder = Recorder(ctx, run_id, report, progress, now)
    for target in targets:
        if not target.store:
            report["rules"].append(_sweep_target(ctx, target, None, held, {}, dry_run, recorder))
    sweep_stores(ctx, targets, held, recorder, dry_run=dry_run, batch_size=batch_size)
    if store is None:

        def own_progress(step: str, done: int) -> None:
            recorder.tick(f"service data: {step}", {"done": done})

        report["service"] = sweep_own_data(ctx, now=now, dry_run=dry_run, held=held, progress=own_progress)
    report["totals"] = {
        name: sum(e.get(name, 0) for e in report["rules"])
        for name in ("candidates", "deleted", "anonymised", "shredded", "held")
    }
    report["totals"]["errors"] = sum(len(e["errors"]) for e in report["rules"])
    return json_safe(report)


def preview(ctx: Context, store: str | None = None) -> dict[str, Any]:
    """What a run would do now: a dry run that is not recorded."""
    return sweep(ctx, dry_run=True, store=store)
