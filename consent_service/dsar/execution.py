"""Executing verified access, portability, erasure and rectification requests across the stores.

``run_request`` runs in the calling thread (the task queue's worker, ``consent-service requests
run``) and is resumable. It may start from ``verified``, ``in_progress`` or
``failed``; it moves the request to ``in_progress`` first, in its own transaction, then:

- finds the subject's records in every registered store (``traversal``);
- access / portability: builds the package (``package``) once every store has answered;
- erasure: erases children before parents; a collection with a ``hold`` is kept and the hold
  is reported; each store gets a proof-of-erasure report (``dsar_reports``: counts, actions,
  holds and times, no personal data); when every store is done the subject is crypto-shredded
  (the gate then answers ``erased``);
- rectification: sets the corrected values on the declared fields, wherever rows were found.

Each store's outcome is written to ``dsar_store_runs`` and to the request's audit log as it
happens. Erasure and rectification skip stores already done on a re-run; access re-reads every
store (reads have no effects, and the package is one consistent snapshot). A store that raises
sends the request to ``failed`` with the error in the audit trail; nothing is reported as done
that was not. A store that answers later (HTTP ``accepted``, a manual task) leaves the request
``in_progress`` with that store ``pending`` and its task in the result.

Every run that started ends in a defined state: ``completed``, ``in_progress`` with pending
stores, or ``failed`` with ``failure_reason`` (readable by the DPO: no stack trace, no personal
data; the trace goes to the service log). A subject crypto-shredded before the run fails the
request for good (``retryable: false`` in the result): its identities can no longer be read, so
only a rejection closes it. ``retry`` puts a failed request back to ``in_progress`` for a new run; ``queue_retry`` does that
and queues the run (the API's ``/retry``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.envelope import DecryptionFailed, field_aad, open_sealed
from consent_service.dsar import completion, limits, messages, notify, outbox, package, verified
from consent_service.dsar.execution_models import DsarReport, DsarStoreRun
from consent_service.dsar.pending import open_task, open_tasks, resolved_opener
from consent_service.dsar.request_models import DsarRequest
from consent_service.dsar.requests import load_request, log_event, summary, transition
from consent_service.dsar.verified import request_identities
from consent_service.dsar.writes import erase_store, public_task, rectify_store
from consent_service.erasure import holds
from consent_service.erasure.shred import shred_subject
from consent_service.errors import Conflict, DomainError
from consent_service.stores.connectors.base import Connector
from consent_service.stores.models import DataStore
from consent_service.stores.traversal import Found, StoreFailure, traverse
from consent_service.subjects import service as subjects

log = logging.getLogger(__name__)

EXECUTABLE = ("access", "portability", "erasure", "rectification")
RUNNABLE_STATES = ("verified", "in_progress", "failed")
Opener = Callable[[str], AbstractContextManager[Connector]]
SUBJECT_ERASED = (
    "the subject's data was erased (crypto-shredded) before this request ran: its identities can "
    "no longer be read, so it cannot be executed; reject it with a reason for the requester"
)
FAILURE_REASON_MAX = 1000
# ctx.caches key: Callable[[Context, str], None] that queues a run of a request (create_app wires
# the task queue's, also under CONSENT_TESTING=1, where verified requests are not queued on their own).


def unrunnable(ctx: Context, session: Session, request: DsarRequest) -> str | None:
    """Why no run can ever execute ``request`` (its subject was shredded), or None.

    An erasure whose every store is already done can still complete after the shredding."""
    if subjects.data_key(session, ctx.crypto, request.subject_id) is not None:
        return None
    if request.type == "erasure":
        done = set(
            session.scalars(
                select(DsarStoreRun.store).where(
                    DsarStoreRun.request_id == request.id, DsarStoreRun.status == "done"
                )
            )
        )
        if set(session.scalars(select(DataStore.key))) <= done:
            return None
    return SUBJECT_ERASED


def check_runnable(request: DsarRequest) -> None:
    if request.type not in EXECUTABLE:
        raise Conflict(f"{request.type} requests take effect when verified; there is nothing to run")
    if request.state not in RUNNABLE_STATES:
        raise Conflict(f"the request is {request.state}; only verified, in_progress or failed ones run")


def _start(ctx: Context, request_id: str, actor: str) -> dict[str, Any]:
    """Move the request to in_progress and read what the run needs (own transaction)."""
    with ctx.uow() as uow:
        session = uow.session
        request = load_request(session, request_id)
        check_runnable(request)
        if request.state != "in_progress":
            why = "execution started" if request.state == "verified" else "execution resumed after a failure"
            transition(session, request, "in_progress", actor, why, ctx.now())
            request.failure_reason = None
        runs = {
            r.store: r.status
            for r in session.scalars(select(DsarStoreRun).where(DsarStoreRun.request_id == request_id))
        }
        plan = {
            "type": request.type,
            "subject_id": request.subject_id,
            "stores": list(session.scalars(select(DataStore.key).order_by(DataStore.key))),
            "runs": runs,
            "identities": _verified_identities(ctx, session, request, actor),
            "changes": _open(ctx, session, request, "changes", request.changes_ct),
            "unrunnable": unrunnable(ctx, session, request),
        }
        uow.commit()
    return plan


def _verified_identities(
    ctx: Context, session: Session, request: DsarRequest, actor: str
) -> list[dict[str, str]] | None:
    """The identities this run may act on; those left out are audited, masked. None: unreadable."""
    entries = request_identities(ctx, session, request)
    if entries is None:
        return None
    used, left_out = verified.usable(session, ctx.crypto, entries)
    if left_out:
        log_event(
            session, request.id, actor, "identities_left_out",
            {"why": "not verified", "identities": left_out}, ctx.now(), request.subject_id,
        )  # fmt: skip
    return used


def _open(ctx: Context, session: Session, request: DsarRequest, column: str, blob: bytes | None) -> Any:
    if blob is None:
        return None
    key = subjects.data_key(session, ctx.crypto, request.subject_id)
    if key is None:
        return None  # shredded: only possible once every erasure store is done
    try:
        return json.loads(
            open_sealed(key, blob, field_aad(request.subject_id, "dsar_requests", column, request.id))
        )
    except DecryptionFailed:
        return None


def _record(
    ctx: Context,
    request_id: str,
    actor: str,
    store: str,
    status: str,
    detail: dict[str, Any],
    report: dict[str, Any] | None = None,
) -> None:
    """Write one store's outcome: its run row, its report (when done) and an audit entry."""
    with ctx.uow() as uow:
        session = uow.session
        request = load_request(session, request_id)
        now = ctx.now()
        run = session.get(DsarStoreRun, (request_id, store))
        if run is None:
            session.add(
                DsarStoreRun(request_id=request_id, store=store, status=status, detail=detail, updated_at=now)
            )
        else:
            run.status, run.detail, run.updated_at = status, detail, now
        if report is not None:
            old = session.scalars(
                select(DsarReport).where(DsarReport.request_id == request_id, DsarReport.store == store)
            ).first()
            if old is None:
                session.add(DsarReport(request_id=request_id, store=store, report=report, created_at=now))
            else:
                old.report, old.created_at = report, now
        if status == "pending":
            open_task(session, request, store, detail, now)
        action = {"done": "store_completed", "pending": "store_pending", "failed": "store_failed"}[status]
        log_event(session, request_id, actor, action, {"store": store, **detail}, now, request.subject_id)
        uow.commit()


def _finish(
    ctx: Context, request_id: str, actor: str, to: str, why: str, told: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """End the run in ``to``; on completion the person and the recipients are told
    (``completion``). ``told``: what the erasure's confirmation needs that the shredding took
    away (``to``: the addresses) and whether data is kept under a hold."""
    with ctx.uow() as uow:
        request = load_request(uow.session, request_id)
        if to == "completed" and open_tasks(uow.session, request_id):
            raise Conflict("a manual task of this request is still open; it cannot complete")
        webhooks: list[str] = []
        if to == "failed":
            request.failure_reason = why[:FAILURE_REASON_MAX]
        if request.state != to:
            transition(uow.session, request, to, actor, why, ctx.now())
            if to == "completed":
                changes = _open(ctx, uow.session, request, "changes", request.changes_ct) or {}
                webhooks = completion.tell(ctx, uow.session, request, actor, told or {}, sorted(changes))
        out = summary(request)
        uow.commit()
    outbox.deliver(ctx, only=webhooks)
    return out


@contextlib.contextmanager
def _connectors(keys: list[str], opener: Opener) -> Iterator[dict[str, Connector]]:
    with contextlib.ExitStack() as stack:
        opened = {}
        for key in keys:
            try:
                opened[key] = stack.enter_context(opener(key))
            except Exception as exc:  # noqa: BLE001 - a store that cannot be opened fails the run
                raise StoreFailure(key, f"{type(exc).__name__}: {exc}"[:500]) from exc
        yield opened


def _identities(plan: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for ident in plan["identities"] or []:
        out.setdefault(ident["type"], []).append(ident["value"])
    return out


def run_request(
    ctx: Context,
    request_id: str,
    *,
    actor: str,
    opener: Opener | None = None,
    progress: Callable[[str, str, dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Execute (or resume) a verified request; returns the request and each store's outcome.

    Stores are opened with ``opener`` when given, else with ``ctx.open_store``.

    Guarantees: the request ends ``completed`` only when every store is done; a store error
    ends it ``failed`` with the error in the audit trail; any other error ends it ``failed``
    with a reason that names no internals (the trace is logged); a re-run never repeats an
    effect (done stores are skipped, connectors' writes are idempotent). The result's
    ``retryable`` is False when no later run can succeed (the subject was shredded).
    """
    open_store = resolved_opener(ctx, request_id, opener or ctx.open_store)
    plan = _start(ctx, request_id, actor)
    outcome: dict[str, dict[str, Any]] = {}
    if plan["unrunnable"]:
        return {
            "request": _finish(ctx, request_id, actor, "failed", plan["unrunnable"]),
            "stores": outcome,
            "retryable": False,
        }
    try:
        return _run(ctx, request_id, actor, plan, open_store, outcome, progress) | {"retryable": True}
    except Exception as exc:  # noqa: BLE001 - whatever stopped the run, the request must not hang
        log.exception("the run of request %s stopped on an unexpected error", request_id)
        return {
            "request": _finish(ctx, request_id, actor, "failed", _readable(exc)),
            "stores": outcome,
            "retryable": True,
        }


def _readable(exc: Exception) -> str:
    """A failure reason for the DPO: a domain error's own words, else only the error's kind."""
    if isinstance(exc, DomainError):
        return f"the run stopped: {exc.detail}"
    return f"the run stopped on an unexpected error ({type(exc).__name__}); the service log has the details"


def _run(
    ctx: Context,
    request_id: str,
    actor: str,
    plan: dict[str, Any],
    open_store: Opener,
    outcome: dict[str, dict[str, Any]],
    progress: Callable[[str, str, dict[str, Any]], None] | None,
) -> dict[str, Any]:
    def note(store: str, status: str, detail: dict[str, Any], report: dict[str, Any] | None = None) -> None:
        _record(ctx, request_id, actor, store, status, detail, report)
        outcome[store] = {"status": status, **detail}
        if progress:
            progress(store, status, detail)

    writes = plan["type"] in ("erasure", "rectification")
    todo = [k for k in plan["stores"] if not (writes and plan["runs"].get(k) == "done")]
    for key in plan["stores"]:
        if key not in todo:
            outcome[key] = {"status": "done", "skipped": "done in an earlier run"}
    if todo and plan["identities"] is None:
        note(todo[0], "failed", {"error": "the request's identities can no longer be read (erased)"})
        return {
            "request": _finish(ctx, request_id, actor, "failed", "identities unreadable"),
            "stores": outcome,
        }
    try:
        with _connectors(todo, open_store) as connectors:
            found = traverse(connectors, _identities(plan))
            if plan["type"] == "erasure":
                erase_store(found, connectors, ctx.now, note, holds=_holds_on(ctx, plan["subject_id"]))
            elif plan["type"] == "rectification":
                rectify_store(found, connectors, plan["changes"] or {}, ctx.now, note)
            else:
                _access(ctx, request_id, actor, found, connectors, note)
    except StoreFailure as exc:
        note(exc.store, "failed", {"error": exc.error})
        why = f"store {exc.store} failed: {exc.error}"
        return {"request": _finish(ctx, request_id, actor, "failed", why), "stores": outcome}
    # a deferred store's detail carries its own status ("accepted" from HTTP): pending all the same
    pending = sorted(k for k, v in outcome.items() if v["status"] in ("pending", "accepted"))
    if pending:
        return {
            "request": _finish(ctx, request_id, actor, "in_progress", ""),
            "stores": outcome,
            "pending": pending,
        }
    why = f"{plan['type']} done in {len(plan['stores'])} store(s)"
    told: dict[str, Any] = {}
    if plan["type"] == "erasure":
        held = _subject_held(ctx, request_id, actor, plan["subject_id"])
        # read before the shredding: afterwards nobody can read where to send the confirmation
        told = {"to": _addresses(ctx, request_id), "held": held or _collections_held(outcome)}
        if held:
            why += "; the subject's data is kept under legal hold: " + "; ".join(
                f"{h['key']} ({h['reason']})" for h in held
            )
            ends = [h["ends_at"] for h in held]
            told["held_until"] = None if None in ends else dt.datetime.fromisoformat(max(ends))
        else:
            shred_subject(ctx, plan["subject_id"], actor_type="client", actor_id=actor)
    return {"request": _finish(ctx, request_id, actor, "completed", why, told), "stores": outcome}


def _addresses(ctx: Context, request_id: str) -> list[str] | None:
    with ctx.uow(write=False) as uow:
        return notify.addresses(ctx, uow.session, load_request(uow.session, request_id))


def _collections_held(outcome: Mapping[str, Mapping[str, Any]]) -> bool:
    return any(store.get("held") for store in outcome.values())


def _holds_on(ctx: Context, subject_id: str) -> Callable[[str, str], list[dict[str, Any]]]:
    """The legal holds that keep a collection's records of this subject (subject, store, collection)."""
    with ctx.uow(write=False) as uow:
        active = holds.active(uow.session, ctx.now())
    on_subject = active.for_subject(subject_id)

    def on(store: str, collection: str) -> list[dict[str, Any]]:
        return holds.brief(on_subject + active.for_collection(store, collection))

    return on


def _subject_held(ctx: Context, request_id: str, actor: str, subject_id: str) -> list[dict[str, Any]]:
    """When the subject is held: log it on the request, leave the person restricted but for the
    holds' purposes (``limits.hold_erasure``), and give the holds that keep it (no shredding)."""
    with ctx.uow() as uow:
        on_subject = holds.active(uow.session, ctx.now()).for_subject(subject_id)
        if not on_subject:
            return []
        brief = holds.brief(on_subject)
        log_event(uow.session, request_id, actor, "kept_under_hold", {"holds": brief}, ctx.now(), subject_id)
        limits.hold_erasure(uow.session, load_request(uow.session, request_id), brief, ctx.now())
        uow.commit()
    return brief


def _access(
    ctx: Context,
    request_id: str,
    actor: str,
    found: Found,
    connectors: Mapping[str, Connector],
    note: Callable[..., None],
) -> None:
    """Record each store's counts; once none is pending, build and seal the package."""
    for store in connectors:
        if store in found.pending:
            note(store, "pending", public_task(found.pending[store]))
            continue
        counts = {c: len(found.rows[(s, c)]) for s, c in found.order if s == store}
        note(store, "done", {"collections": counts, "rows": sum(counts.values())})
    if found.pending:
        return
    with ctx.uow(write=False) as uow:
        request = load_request(uow.session, request_id)
        rtype, subject_id = request.type, request.subject_id
        # the package speaks the language its completion message is written in
        language = messages.best_language(request.language, ctx.config.default_language)
    rendered = package.build(ctx, request_id, rtype, subject_id, found, connectors, language=language)
    with ctx.uow() as uow:
        request = load_request(uow.session, request_id)
        package.save(ctx, uow.session, request, rendered)
        days = ctx.config.package_retention_days
        log_event(
            uow.session,
            request_id,
            actor,
            "package_created",
            {"expires_in_days": days},
            ctx.now(),
            subject_id,
        )
        uow.commit()
