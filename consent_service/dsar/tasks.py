"""Finishing the stores a request waits for: manual tasks a person closes, and the signed
callbacks of HTTP stores that answered "accepted".

Both resolve that store's pending run (in one transaction with the audit entry) and, when no
store is pending and no task is open any more, finish the request by running it once more:
stores already done are skipped (erasure, rectification) or read back from what they sent
(access), so the request completes (an erasure is crypto-shredded, an access package is built)
exactly as if every store had answered inline. A request never completes while a task is open.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.auditlog import notes
from consent_service.context import Context
from consent_service.crypto.envelope import seal
from consent_service.db import columns_of
from consent_service.dsar import execution
from consent_service.dsar.execution_models import DsarReport, DsarStoreRun
from consent_service.dsar.pending import open_tasks, records_aad
from consent_service.dsar.request_models import DsarRequest
from consent_service.dsar.requests import load_request, log_event, sealed_note, summary, transition
from consent_service.dsar.task_models import DsarTask
from consent_service.errors import Conflict, InvalidInput, NotFound, Unauthorized
from consent_service.stores.connectors.http import verify_signature
from consent_service.stores.models import DataStore
from consent_service.stores.secrets import open_connection
from consent_service.subjects import service as subjects

CALLBACK_MAX_AGE_S = 300


def task_dict(task: DsarTask, note: str | None) -> dict[str, Any]:
    """The task as shown; ``note`` is its note opened (``auditlog.notes.open_note``)."""
    return {**columns_of(task, exclude=("created_at",)), "note": note}  # the note keeps its place


def list_tasks(ctx: Context, request_id: str) -> list[dict[str, Any]]:
    """The manual tasks of a request, oldest first."""
    with ctx.uow(write=False) as uow:
        request = load_request(uow.session, request_id)
        rows = uow.session.scalars(
            select(DsarTask)
            .where(DsarTask.request_id == request_id)
            .order_by(DsarTask.created_at, DsarTask.id)
        ).all()
        key = subjects.data_key(uow.session, ctx.crypto, request.subject_id) if rows else None
        return [
            task_dict(
                t, notes.open_note(key, t.note, subject_id=request.subject_id, where=f"dsar:{request_id}")
            )
            for t in rows
        ]


def _pending_runs(session: Session, request_id: str) -> int:
    return len(
        session.scalars(
            select(DsarStoreRun.store).where(
                DsarStoreRun.request_id == request_id, DsarStoreRun.status == "pending"
            )
        ).all()
    )


def _resolve(session: Session, request: DsarRequest, store: str, detail: dict[str, Any], now: Any) -> None:
    run = session.get(DsarStoreRun, (request.id, store))
    if run is None:
        session.add(
            DsarStoreRun(request_id=request.id, store=store, status="done", detail=detail, updated_at=now)
        )
    else:
        run.status, run.detail, run.updated_at = "done", detail, now


def _finish_if_ready(
    ctx: Context, request_id: str, ready: bool, actor: str, out: dict[str, Any]
) -> dict[str, Any]:
    if not ready:
        return out
    return execution.run_request(ctx, request_id, actor=actor)["request"]


def complete_task(ctx: Context, request_id: str, task_id: str, *, note: str, actor: str) -> dict[str, Any]:
    """Close an open task with a note; its store's run is done, and the request completes
    (in the same way as an inline run) when nothing else is pending. Returns the task and request."""
    if not (note or "").strip():
        raise InvalidInput("closing a task needs a note", errors={"note": ["required"]})
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.now()
        request = load_request(session, request_id)
        task = session.get(DsarTask, task_id)
        if task is None or task.request_id != request_id:
            raise NotFound(f"request {request_id!r} has no task {task_id!r}")
        if task.state != "open":
            raise Conflict(f"task {task_id} is already done")
        sealed = sealed_note(ctx, session, request, note.strip())
        task.state, task.note, task.done_by, task.done_at = "done", sealed, actor, now
        _resolve(session, request, task.store, {"resolved": True, "via": "task", "task": task_id}, now)
        log_event(
            session,
            request_id,
            actor,
            "task_completed",
            {"task": task_id, "store": task.store, "note": sealed},
            now,
            request.subject_id,
        )
        session.flush()
        ready = request.state == "in_progress" and not _pending_runs(session, request_id)
        ready = ready and not open_tasks(session, request_id)
        done = task_dict(task, note.strip())
        out = summary(request)
        uow.commit()
    return {"task": done, "request": _finish_if_ready(ctx, request_id, ready, actor, out)}


def _callback_document(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidInput("the body is not JSON", errors={"body": ["not JSON"]}) from None
    errors: dict[str, list[str]] = {}
    if not isinstance(doc, dict):
        raise InvalidInput("the body must be an object", errors={"body": ["must be an object"]})
    if not isinstance(doc.get("request_id"), str):
        errors["request_id"] = ["required"]
    if doc.get("status") not in ("done", "failed"):
        errors["status"] = ["'done' or 'failed'"]
    if not isinstance(doc.get("records", []), list) or not all(
        isinstance(r, dict) for r in doc.get("records", [])
    ):
        errors["records"] = ["a list of objects"]
    if not isinstance(doc.get("report", {}), dict):
        errors["report"] = ["an object"]
    if errors:
        raise InvalidInput("the callback is not valid", errors=errors)
    return doc


def store_callback(
    ctx: Context, store_key: str, *, timestamp: str, signature: str, body: bytes
) -> dict[str, Any]:
    """Resolve an HTTP store's pending run from its signed callback; nothing changes unless the
    signature (HMAC of ``"<timestamp>.<body>"`` under the store's secret) is valid and recent."""
    with ctx.uow(write=False) as uow:
        store = uow.session.get(DataStore, store_key)
        secret = None
        if store is not None and store.type == "http":
            secret = open_connection(ctx.crypto, store_key, store.secret_box, store.secret_kek).get("secret")
    if not isinstance(secret, str) or not verify_signature(
        secret, timestamp, body, signature, max_age_s=CALLBACK_MAX_AGE_S
    ):
        raise Unauthorized("the callback signature is missing, wrong or too old")
    doc = _callback_document(body)
    request_id = doc["request_id"]
    actor = f"store:{store_key}"
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.now()
        request = session.get(DsarRequest, request_id)
        run = session.get(DsarStoreRun, (request_id, store_key))
        if request is None or run is None or run.status != "pending":
            raise Conflict(f"store {store_key!r} has no pending run for request {request_id!r}")
        if doc["status"] == "failed":
            error = str(
                doc.get("error") or doc.get("report", {}).get("error") or "the store reported a failure"
            )
            run.status, run.detail, run.updated_at = "failed", {"error": error[:500], "via": "callback"}, now
            log_event(
                session,
                request_id,
                actor,
                "store_failed",
                {"store": store_key, "error": error[:500]},
                now,
                request.subject_id,
            )
            transition(session, request, "failed", actor, f"store {store_key} failed: {error[:200]}", now)
            out = summary(request)
            uow.commit()
            return out
        report = dict(doc.get("report") or {})
        _resolve(session, request, store_key, {"resolved": True, "via": "callback", **report}, now)
        records = doc.get("records") or []
        key = subjects.data_key(session, ctx.crypto, request.subject_id)
        run = session.get(DsarStoreRun, (request_id, store_key))
        if records and key is not None and run is not None:
            run.records_ct = seal(key, json.dumps(records).encode(), records_aad(request, store_key))
        if report:
            old = session.scalars(
                select(DsarReport).where(DsarReport.request_id == request_id, DsarReport.store == store_key)
            ).first()
            full = {"store": store_key, "type": request.type, "via": "callback", **report}
            if old is None:
                session.add(DsarReport(request_id=request_id, store=store_key, report=full, created_at=now))
            else:
                old.report, old.created_at = full, now
        log_event(
            session,
            request_id,
            actor,
            "store_completed",
            {"store": store_key, "via": "callback", "records": len(records), **report},
            now,
            request.subject_id,
        )
        session.flush()
        ready = request.state == "in_progress" and not _pending_runs(session, request_id)
        ready = ready and not open_tasks(session, request_id)
        out = summary(request)
        uow.commit()
    return _finish_if_ready(ctx, request_id, ready, actor, out)
