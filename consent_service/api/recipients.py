"""``/v1/recipients``: who is told of erasures, rectifications and restrictions (GDPR Art. 19).

Secrets are write-only: they are stored sealed and never returned; ``***`` keeps the stored one.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import ValidationError, fields, validate

from consent_service.api.auth import ctx, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas import StrictSchema
from consent_service.dsar import recipients, transfers
from consent_service.stores.secrets import HIDDEN

blp = Blueprint(
    "recipients", __name__, url_prefix="/v1/recipients", description="Recipients told of changes (Art. 19)"
)


def _secret(value: str) -> None:
    if value != HIDDEN and len(value) < 16:
        raise ValidationError("a shared secret of at least 16 characters is required")


class RecipientIn(StrictSchema):
    OPENAPI = {"properties": {"secret": {"anyOf": [{"minLength": 16}, {"enum": [HIDDEN]}]}}}

    name = fields.Str(required=True, validate=validate.Length(1, 200))
    endpoint = fields.Str(
        required=True,
        validate=[
            validate.Length(1, 500),
            validate.Regexp(r"^https?://", error="an http:// or https:// URL"),
        ],
    )
    secret = fields.Str(
        required=True,
        load_only=True,
        validate=_secret,
        metadata={
            "description": "at least 16 characters, stored sealed, never shown; '***' keeps the stored one"
        },
    )
    events = fields.List(
        fields.Str(validate=validate.OneOf(recipients.EVENTS)), required=True, validate=validate.Length(min=1)
    )
    country = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(sorted(transfers.countries())),
        metadata={"description": "ISO 3166-1 alpha-2 code of the country the recipient is in"},
    )
    safeguard = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(transfers.SAFEGUARDS),
        metadata={
            "description": "outside the EEA: what the transfer rests on (required there, refused inside)"
        },
    )


class RecipientOut(StrictSchema):
    key = fields.Str()
    name = fields.Str()
    endpoint = fields.Str()
    events = fields.List(fields.Str())
    country = fields.Str(allow_none=True)
    safeguard = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


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
        out, created = recipients.save_recipient(ctx(), key, doc)
        return out, 201 if created else 200

    @require("dsar:manage")
    @blp.response(200, RecipientOut)
    def get(self, key: str) -> dict[str, Any]:
        """Show a recipient (without its secret)."""
        return recipients.get_recipient(ctx(), key)
