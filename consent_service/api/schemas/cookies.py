"""Schemas of ``/v1/cookies``."""

from __future__ import annotations

from marshmallow import fields, validate

from consent_service.api.schemas.common import DURATION_PATTERN, KEY, StrictSchema


class CookieIn(StrictSchema):
    domain = fields.Str(required=True, validate=validate.Length(1, 255))
    provider = fields.Str(required=True, validate=validate.Length(1, 255))
    duration = fields.Str(
        required=True,
        validate=validate.Regexp(f"^session$|{DURATION_PATTERN}", error="an ISO 8601 duration or 'session'"),
        metadata={"description": "ISO 8601 duration or 'session'"},
    )
    purpose = fields.Str(required=True, validate=KEY)
    description = fields.Str(load_default=None, allow_none=True, validate=validate.Length(max=5000))


class CookieOut(StrictSchema):
    name = fields.Str()
    domain = fields.Str()
    provider = fields.Str()
    duration = fields.Str()
    purpose = fields.Str()
    description = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
