"""Schemas of ``/health``."""

from __future__ import annotations

from marshmallow import fields

from consent_service.api.schemas.common import StrictSchema


class HealthOut(StrictSchema):
    status = fields.Str()
    database = fields.Str()
