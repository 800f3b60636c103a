"""Running a request again: readying it (``retry``) and handing it to the task queue
(``queue_retry``), for the API's retry and the DPO. The run itself is ``execution.run_request``.
"""

from __future__ import annotations

from typing import Any

from consent_service.context import Context
from consent_service.dsar.execution import check_runnable, run_request, unrunnable
from consent_service.dsar.requests import load_request, log_event, summary, transition
from consent_service.errors import Conflict

QUEUE = "dsar.queue"


def retry(ctx: Context, request_id: str, *, actor: str) -> dict[str, Any]:
    """Ready a request for another run (the caller queues it); returns the request as it is now.

    A failed request goes back to ``in_progress`` (audited as ``retry_requested``, its failure
    reason cleared); a verified or in_progress one is left as it is. Conflict when the request
    is not executed across the stores, is closed or waits for verification, or can never run
    (its subject was shredded).
    """
    with ctx.uow() as uow:
        session = uow.session
        request = load_request(session, request_id)
        check_runnable(request)
        if request.state == "failed":
            reason = unrunnable(ctx, session, request)
            if reason:
                raise Conflict(reason)
        now = ctx.now()
        log_event(
            session, request_id, actor, "retry_requested", {"state": request.state}, now, request.subject_id
        )
        if request.state == "failed":
            transition(session, request, "in_progress", actor, "retry requested: queued for a new run", now)
            request.failure_reason = None
        out = summary(request)
        uow.commit()
    return out


def queue_retry(ctx: Context, request_id: str, *, actor: str) -> dict[str, Any]:
    """Ready a request for another run (``retry``) and hand it to the task queue wired into the
    context (``QUEUE``), or run it here and now when none is; returns the request as it is then.
    Conflict as ``retry``: nothing is queued for a request that cannot run."""
    current = retry(ctx, request_id, actor=actor)
    enqueue = ctx.caches.get(QUEUE)
    if enqueue is None:
        return dict(run_request(ctx, request_id, actor=actor)["request"])
    enqueue(ctx, request_id)
    return current
