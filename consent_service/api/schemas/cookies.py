"""Schemas of ``/v1/cookies``."""

from __future__ import annotations

from marshmallow import fields, validate

from consent_service.api.schemas.common import DURATION_PATTERN, KEY, StrictSchema
from consent_service.registry.service import COOKIE_PATH


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
    descriptions = fields.Dict(
        keys=fields.Str(validate=validate.Length(2, 8)),
        values=fields.Str(validate=validate.Length(1, 5000)),
        load_default=None,
        allow_none=True,
        metadata={
            "description": 'the banner\'s text per language, e.g. {"de": "..."}; falls back to English'
        },
    )
    path = fields.Str(
        load_default="/",
        validate=validate.Regexp(
            f"^{COOKIE_PATH}$",
            error="a cookie path: / and then printable ASCII without ; (at most 255 characters)",
        ),
        metadata={"description": "the path the cookie is set for; the banner deletes it there on withdrawal"},
    )


class CookieOut(StrictSchema):
    name = fields.Str()
    domain = fields.Str()
    provider = fields.Str()
    duration = fields.Str()
    purpose = fields.Str()
    description = fields.Str(allow_none=True)
    descriptions = fields.Dict(allow_none=True)
    path = fields.Str()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
