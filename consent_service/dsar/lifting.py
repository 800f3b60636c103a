"""Lifting what a restriction (Art. 18) or objection (Art. 21) put in force in the gate.

A restriction is lifted only with a reason, and the person is told before it takes effect
(Art. 18(3): the message is enqueued in the same transaction, delivered after commit); an
objection to a direct-marketing purpose is absolute (Art. 21(3)) and is never lifted.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from consent_service.context import Context
from consent_service.dsar import notify, outbox, recipients
from consent_service.dsar.requests import load_request, log_event, sealed_note, summary
from consent_service.errors import Conflict, InvalidInput
from consent_service.ledger.models import SubjectRestriction


def lift(ctx: Context, request_id: str, *, reason: str, actor: str) -> dict[str, Any]:
    """Lift a restriction (Art. 18(3): the person is told), or a non-absolute objection."""
    if not reason.strip():
        raise InvalidInput("lifting needs a reason", errors={"reason": ["required"]})
    with ctx.uow() as uow:
        session = uow.session
        now = ctx.now()
        request = load_request(session, request_id)
        if request.type not in ("restriction", "objection"):
            raise Conflict(
                f"only restrictions and objections can be lifted, not a request of type {request.type}"
            )
        in_force = session.scalars(
            select(SubjectRestriction).where(
                SubjectRestriction.request_id == request_id, SubjectRestriction.lifted_at.is_(None)
            )
        ).all()
        if not in_force:
            raise Conflict("this request has nothing in force to lift")
        if any(limit.absolute for limit in in_force):
            raise Conflict("an objection to direct marketing is absolute (Art. 21(3)) and cannot be lifted")
        sealed = sealed_note(ctx, session, request, reason)
        for limit in in_force:
            limit.lifted_at, limit.lift_reason = now, sealed
        log_event(
            session,
            request_id,
            actor,
            f"{request.type}_lifted",
            {"reason": sealed, "purposes": [x.purpose_key for x in in_force]},
            now,
            request.subject_id,
        )
        webhooks: list[str] = []
        if request.type == "restriction":  # Art. 18(3): the person is told
            webhooks = notify.tell(
                ctx, session, request, "restriction_lifted", actor=actor,
                purposes=[x.purpose_key for x in in_force], reason=reason,
            )  # fmt: skip
            webhooks += recipients.enqueue_webhooks(
                session,
                "restriction",
                request,
                now,
                action="lifted",
                purposes=[x.purpose_key for x in in_force],
            )
        out = summary(request)
        uow.commit()
    outbox.deliver(ctx, only=webhooks)
    return out
