"""Retention runs: one at a time (``consent_service.locks``), recorded in ``retention_runs`` as
they go, with the final report appended to the tamper-evident ``retention`` audit log. A run whose
process died is recognised by its lock being free and marked ``interrupted``; the next run
finishes the work.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from consent_service import locks
from consent_service.auditlog import service as auditlog
from consent_service.context import Context
from consent_service.db import columns_of
from consent_service.errors import Conflict, NotFound
from consent_service.retention.models import RetentionRun
from consent_service.retention.recorder import Progress
from consent_service.retention.sweeper import LOG, sweep
from consent_service.stores.models import DataStore

RUN_LOCK = "retention-run"  # one run at a time
RUNNER = "retention-runner"  # ctx.caches key: Callable[[Context, str], None] that queues a run


def run_view(run: RetentionRun) -> dict[str, Any]:
    return {**columns_of(run, exclude=("report",)), "report": run.report}  # the long report last


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
    with locks.exclusive(ctx.db, RUN_LOCK) as free:
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
    with locks.exclusive(ctx.db, RUN_LOCK) as free:
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


def start_run(ctx: Context, *, dry_run: bool, store: str | None, started_by: str) -> dict[str, Any]:
    """Record a run and hand it to the task queue wired into the context (``RUNNER``), or run it
    here and now when none is; returns the run as it is then. Conflict while another run goes."""
    run = create_run(ctx, dry_run=dry_run, store=store, started_by=started_by)
    runner = ctx.caches.get(RUNNER)
    if runner is None:
        return execute_run(ctx, run["id"])
    runner(ctx, run["id"])
    return get_run(ctx, run["id"])


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
