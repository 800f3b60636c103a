"""Refusing a request (Art. 12(4) and (5)), on a structured ground, with the person told why.

Grounds (``GROUNDS``): ``manifestly_unfounded`` and ``excessive`` (Art. 12(5); repetitions are
shown to the DPO as ``repeats`` in the request, never refused automatically),
``identity_not_verified`` (Art. 12(2), (6)) and ``other``. Every ground but
``identity_not_verified`` needs the DPO's reason; that one's message explains itself (in the
person's language) and invites a new request with proof. The ground is not
personal data and is stored in clear (``dsar_requests.refusal_ground``, the audit trail); the
reason is the DPO's free text, sealed under the subject's key in the audit trail like any note.

The person is told in the same transaction (``notify``): the ground in words, the reason, and
the right to lodge a complaint with a supervisory authority (``CONSENT_SUPERVISORY_AUTHORITY_NAME``
and ``_URL``; unset, the message names the authority of their habitual residence, place of work
or place of the alleged infringement) and to seek a judicial remedy (Art. 12(4)).
"""

from __future__ import annotations

from typing import Any

from consent_service.context import Context
from consent_service.dsar import notify, outbox
from consent_service.dsar.requests import CLOSED_STATES, load_request, sealed_note, summary, transition
from consent_service.errors import Conflict, InvalidInput

GROUNDS = ("manifestly_unfounded", "excessive", "identity_not_verified", "other")
NEEDS_NO_REASON = ("identity_not_verified",)  # its message explains it, in the person's language


def reject(ctx: Context, request_id: str, *, ground: str, reason: str | None, actor: str) -> dict[str, Any]:
    """Refuse the request on ``ground`` with ``reason`` (see the module docstring); the person is
    told. Conflict once the request is closed or running; InvalidInput for a bad ground or a
    missing reason."""
    if ground not in GROUNDS:
        raise InvalidInput("unknown refusal ground", errors={"ground": [f"one of {', '.join(GROUNDS)}"]})
    text = (reason or "").strip()
    if not text and ground not in NEEDS_NO_REASON:
        raise InvalidInput(
            f"a refusal on the ground {ground!r} needs a reason", errors={"reason": ["required"]}
        )
    with ctx.uow() as uow:
        session = uow.session
        request = load_request(session, request_id)
        if request.state in CLOSED_STATES or request.state == "in_progress":
            raise Conflict(f"the request is {request.state}; it cannot be rejected")
        note = sealed_note(ctx, session, request, text) if text else None
        transition(
            session, request, "rejected", actor, f"rejected by the DPO: {ground}", ctx.now(), note=note
        )
        request.refusal_ground = ground
        config = ctx.config
        told = notify.tell(
            ctx, session, request, "refused", actor=actor, ground=ground, reason=text,
            authority_name=config.supervisory_authority_name, authority_url=config.supervisory_authority_url,
        )  # fmt: skip
        out = summary(request)
        uow.commit()
    outbox.deliver(ctx, only=told)
    return out
