"""Reading data subject requests: summaries, lists with deadline filters, and one request's
file (identities with their verification, what is in force, the audit trail, what the person
was told).

Each request shows its ``repeats`` (Art. 12(5), see ``repeats``), the list for all its rows at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.auditlog import notes
from consent_service.auditlog import service as auditlog
from consent_service.context import Context
from consent_service.crypto.envelope import ERASED
from consent_service.dsar import notify, verified
from consent_service.dsar.execution_models import DsarReport, DsarStoreRun
from consent_service.dsar.repeats import repeats
from consent_service.dsar.request_models import DsarRequest, DsarVerification
from consent_service.dsar.requests import CONTACT_PURGED, OPEN_STATES, load_request, summary
from consent_service.durations import parse_duration
from consent_service.ledger.models import SubjectRestriction
from consent_service.subjects import service as subjects
from consent_service.subjects.service import IdentityRef


def list_requests(
    ctx: Context,
    *,
    state: str | None = None,
    type: str | None = None,
    overdue: bool = False,
    due_within: str | None = None,
) -> list[dict[str, Any]]:
    now = ctx.now()
    stmt = select(DsarRequest).order_by(DsarRequest.due_at)
    if state:
        stmt = stmt.where(DsarRequest.state == state)
    if type:
        stmt = stmt.where(DsarRequest.type == type)
    if overdue:
        stmt = stmt.where(DsarRequest.state.in_(OPEN_STATES), DsarRequest.due_at < now)
    if due_within:
        stmt = stmt.where(
            DsarRequest.state.in_(OPEN_STATES), DsarRequest.due_at <= now + parse_duration(due_within)
        )
    with ctx.uow(write=False) as uow:
        return _rows(ctx, uow.session, uow.session.scalars(stmt).all(), now)


def _rows(
    ctx: Context, session: Session, found: Sequence[DsarRequest], now: dt.datetime
) -> list[dict[str, Any]]:
    repeated = repeats(session, ctx.config.repeat_window, found)
    return [
        summary(r) | {"overdue": r.state in OPEN_STATES and r.due_at < now, "repeats": repeated[r.id]}
        for r in found
    ]


def requests_of(ctx: Context, identity: IdentityRef) -> list[dict[str, Any]]:
    """The requests of the person an identity belongs to (and of the subjects linked to it),
    soonest due first; none when the service knows no such identity. The identity itself is
    looked up by its blind index only: it is never stored or logged by this search."""
    now = ctx.now()
    with ctx.uow(write=False) as uow:
        session = uow.session
        subject_id = subjects.resolve(session, ctx.crypto, identity)
        if subject_id is None:
            return []
        root = subjects.root_of(session, subject_id) or subject_id
        group = {subject_id, root, *subjects.group_members(session, root)}
        stmt = select(DsarRequest).where(DsarRequest.subject_id.in_(sorted(group)))
        return _rows(ctx, session, session.scalars(stmt.order_by(DsarRequest.due_at)).all(), now)


def show(ctx: Context, request_id: str) -> dict[str, Any]:
    """The request with the requester's identities (decrypted) and its audit trail."""
    with ctx.uow(write=False) as uow:
        session = uow.session
        request = load_request(session, request_id)
        key = subjects.data_key(session, ctx.crypto, request.subject_id)
        identities: Any = ERASED
        if request.identities_ct is None:
            identities = CONTACT_PURGED  # past the contact data's retention (``contact_purged_at``)
        else:
            entries = verified.request_identities(ctx, session, request)
            if entries is not None:
                identities = verified.public(entries, verified.states(session, ctx.crypto, entries))
        trail = [
            entry
            | {
                "details": notes.open_details(
                    key, entry["details"], subject_id=request.subject_id, where=f"dsar:{request_id}"
                )
            }
            for entry in auditlog.entries(session, f"dsar:{request_id}", limit=1000)
        ]
        report = auditlog.verify(session, f"dsar:{request_id}")
        limits = session.scalars(
            select(SubjectRestriction).where(SubjectRestriction.request_id == request_id)
        ).all()
        return summary(request) | {
            "overdue": request.state in OPEN_STATES and request.due_at < ctx.now(),
            "repeats": repeats(session, ctx.config.repeat_window, [request])[request.id],
            "messages": notify.sent_messages(session, trail),
            "identities": identities,
            "in_force": [
                {"purpose": x.purpose_key, "kind": x.kind, "absolute": x.absolute, "lifted_at": x.lifted_at}
                for x in limits
            ],
            "audit_trail": trail,
            "audit_trail_ok": report.ok,
        }


def code_state(ctx: Context, request_id: str) -> dict[str, Any] | None:
    """The request's e-mail code (``codes``): when it expires and whether wrong codes locked it;
    None when no code was sent (a DPO verified the request, or it needs none)."""
    with ctx.uow(write=False) as uow:
        check = uow.session.get(DsarVerification, request_id)
        if check is None:
            return None
        return {"expires_at": check.expires_at, "locked": check.attempts >= check.max_attempts}


def reports(ctx: Context, request_id: str) -> list[dict[str, Any]]:
    """The per-store reports of a request (proof of erasure, rectification counts)."""
    with ctx.uow(write=False) as uow:
        load_request(uow.session, request_id)
        rows = uow.session.scalars(
            select(DsarReport).where(DsarReport.request_id == request_id).order_by(DsarReport.store)
        )
        runs = uow.session.scalars(select(DsarStoreRun).where(DsarStoreRun.request_id == request_id))
        return [{"store": r.store, "created_at": r.created_at, "report": r.report} for r in rows] + [
            {"store": r.store, "created_at": r.updated_at, "report": {"status": r.status, **r.detail}}
            for r in runs
            if r.status != "done"
        ]


def stores_of(ctx: Context, request_id: str) -> list[dict[str, Any]]:
    """Each store the request was run in: its status (done, pending, accepted, failed), when that
    was, the run's detail and the store's report once it has one (as ``reports`` gives it)."""
    with ctx.uow(write=False) as uow:
        load_request(uow.session, request_id)
        runs = uow.session.scalars(
            select(DsarStoreRun).where(DsarStoreRun.request_id == request_id).order_by(DsarStoreRun.store)
        )
        kept = {
            r.store: r.report
            for r in uow.session.scalars(select(DsarReport).where(DsarReport.request_id == request_id))
        }
        return [
            {
                "store": r.store,
                "status": r.detail.get("status", r.status) if r.status == "pending" else r.status,
                "updated_at": r.updated_at,
                "detail": r.detail,
                "report": kept.get(r.store),
            }
            for r in runs
        ]
