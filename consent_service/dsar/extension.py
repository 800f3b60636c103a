"""Extending a request's deadline by one or two months (Art. 12(3)), while its first month runs,
with the person told the new due date and the DPO's reason."""

from __future__ import annotations

from typing import Any

from consent_service.context import Context
from consent_service.dsar import deadlines, notify, outbox
from consent_service.dsar.requests import (
    CLOSED_STATES,
    calendar_of,
    load_request,
    log_event,
    sealed_note,
    summary,
)
from consent_service.errors import Conflict


def extend(ctx: Context, request_id: str, *, months: int, reason: str, actor: str) -> dict[str, Any]:
    """Extend the deadline (only while the first month runs, ``deadlines.extend``); the person
    is told the new due date and the DPO's reason (Art. 12(3))."""
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.now()
        request = load_request(session, request_id)
        if request.state in CLOSED_STATES:
            raise Conflict(f"the request is {request.state}")
        total, due = deadlines.extend(
            received_at=request.received_at,
            original_due_at=request.original_due_at,
            extended=request.extension_months,
            months=months,
            reason=reason,
            now=now,
            cal=calendar_of(ctx),
        )
        log_event(
            session,
            request_id,
            actor,
            "extended",
            {
                "months": months,
                "reason": sealed_note(ctx, session, request, reason),
                "due_at": due.isoformat(),
            },
            now,
            request.subject_id,
        )
        request.extension_months, request.due_at, request.updated_at = total, due, now
        told = notify.tell(
            ctx, session, request, "extended", actor=actor,
            due=due, original_due=request.original_due_at, reason=reason,
        )  # fmt: skip
        out = summary(request)
        uow.commit()
    outbox.deliver(ctx, only=told)
    return out
