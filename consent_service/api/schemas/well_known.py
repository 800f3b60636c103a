"""Schemas of ``/.well-known``: the GPC support representation (W3C GPC § 4.1)."""

from __future__ import annotations

from marshmallow import fields

from consent_service.api.schemas.common import StrictSchema


class GpcSupportOut(StrictSchema):
    gpc = fields.Bool(metadata={"description": "true: the site abides by GPC requests"})
    lastUpdate = fields.Str(  # the member's name in the specification
        metadata={
            "description": "when that was stated: an RFC 3339 full-date or date-time",
            "example": "2026-12-02",
        }
    )
