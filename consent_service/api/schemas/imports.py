"""Schemas of imports from other consent platforms."""

from __future__ import annotations

from marshmallow import fields, validate

from consent_service.api.schemas.common import StrictSchema
from consent_service.imports.mapping import SHIPPED
from consent_service.imports.reader import FORMATS


class ImportQuery(StrictSchema):
    format = fields.Str(required=True, validate=validate.OneOf(FORMATS))
    mapping = fields.Str(
        required=True,
        validate=validate.OneOf(SHIPPED),
        metadata={"description": "a shipped mapping; or upload your own as the multipart part 'mapping'"},
    )


class ImportErrorOut(StrictSchema):
    row = fields.Int()
    field = fields.Str()
    message = fields.Str()


class ImportOut(StrictSchema):
    source = fields.Str()
    rows = fields.Int()
    decisions = fields.Int()
    written = fields.Int()
    already_imported = fields.Int()
    erased_skipped = fields.Int()
    subjects_created = fields.Int()
    errors = fields.List(fields.Nested(ImportErrorOut))
