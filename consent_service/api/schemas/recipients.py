"""Schemas of ``/v1/recipients`` (Art. 19)."""

from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from consent_service.api.schemas.common import MAX_SEQ, StrictSchema
from consent_service.dsar import recipients, transfers
from consent_service.stores.secrets import HIDDEN


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
    consent_after = fields.Int(
        validate=validate.Range(0, MAX_SEQ),
        metadata={
            "description": "with the event consent: deliver consent events after this ledger seq "
            "(0: the whole ledger); by default a new subscription starts at the newest event"
        },
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
