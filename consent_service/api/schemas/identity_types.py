"""Schemas of ``/v1/identity-types``."""

from __future__ import annotations

from marshmallow import fields, validate

from consent_service.api.schemas.common import StrictSchema
from consent_service.subjects.identity_types import CASES


class IdentityTypeIn(StrictSchema):
    case = fields.Str(load_default="keep", validate=validate.OneOf(CASES))
    trim = fields.Bool(load_default=True)
    pattern = fields.Str(load_default=None, allow_none=True, validate=validate.Length(1, 400))
    dsar_allowed = fields.Bool(load_default=False)


class IdentityTypeOut(StrictSchema):
    key = fields.Str()
    case = fields.Str()
    trim = fields.Bool()
    pattern = fields.Str(allow_none=True)
    dsar_allowed = fields.Bool()
    built_in = fields.Bool()
