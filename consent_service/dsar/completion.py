"""What a completed run tells, in the completing transaction: the person and the recipients.

The person (``notify``): an access or portability request gets a signed download link
(``package_links``, under ``CONSENT_PUBLIC_URL``) and until when it works; an erasure its
confirmation, saying what is kept under a legal hold and until when; a rectification the names
of the corrected fields (never the values). Registered recipients get the Art. 19 webhooks of an
erasure or rectification (``recipients``). An erasure's confirmation is enqueued after the
subject was shredded, so its addresses were read before (``told["to"]``) and the outbox seals it
under a service key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.dsar import notify, package_links, recipients
from consent_service.dsar.request_models import DsarRequest


def tell(
    ctx: Context,
    session: Session,
    request: DsarRequest,
    actor: str,
    told: Mapping[str, Any],
    fields: Sequence[str],
) -> list[str]:
    """Enqueue the completion message and the recipients' webhooks; their outbox ids.

    ``fields``: the corrected fields of a rectification; ``told``: for an erasure, ``to`` (the
    addresses read before the shredding), ``held`` and ``held_until``."""
    if request.type in ("access", "portability"):
        link = package_links.issue(ctx, session, request.id, actor=actor)
        return notify.tell(
            ctx, session, request, f"completed_{request.type}", actor=actor,
            link=package_links.url_of(ctx, link["token"]), link_expires=link["expires_at"],
        )  # fmt: skip
    details: dict[str, Any] = {}
    if request.type == "rectification":
        details["fields"] = list(fields)
        ids = notify.tell(ctx, session, request, "completed_rectification", actor=actor, fields=list(fields))
    else:
        ids = notify.tell(
            ctx, session, request, "completed_erasure", actor=actor, to=told.get("to"),
            held=bool(told.get("held")), held_until=told.get("held_until"),
        )  # fmt: skip
    return ids + recipients.enqueue_webhooks(session, request.type, request, ctx.now(), **details)
