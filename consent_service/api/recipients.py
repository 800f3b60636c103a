"""``/v1/recipients``: who is told of erasures, rectifications and restrictions (GDPR Art. 19).

Secrets are write-only: they are stored sealed and never returned; ``***`` keeps the stored one.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.recipients import RecipientIn, RecipientOut
from consent_service.auditlog import service as auditlog
from consent_service.dsar import recipients
from consent_service.registry.service import REGISTRY_LOG

blp = Blueprint(
    "recipients", __name__, url_prefix="/v1/recipients", description="Recipients told of changes (Art. 19)"
)


@blp.route("")
class Recipients(MethodView):
    @require("dsar:manage")
    @blp.response(200, RecipientOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List the recipients and the events they are told of."""
        return recipients.list_recipients(ctx())


@blp.route("/<key:key>")
class RecipientByKey(MethodView):
    @require("dsar:manage")
    @blp.arguments(RecipientIn)
    @blp.response(200, RecipientOut)
    @blp.alt_response(201, schema=RecipientOut, description="Created")
    def put(self, doc: dict[str, Any], key: str) -> tuple[dict[str, Any], int]:
        """Register or replace a recipient; its webhooks are signed with ``secret``."""
        record = auditlog.recorder(ctx(), REGISTRY_LOG, principal().id)
        out, created = recipients.save_recipient(ctx(), key, doc, record=record)
        return out, 201 if created else 200

    @require("dsar:manage")
    @blp.response(200, RecipientOut)
    def get(self, key: str) -> dict[str, Any]:
        """Show a recipient (without its secret)."""
        return recipients.get_recipient(ctx(), key)
