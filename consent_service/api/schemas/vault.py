"""Schemas of ``/v1/vault``: tokens, values and the access log."""

from __future__ import annotations

from marshmallow import fields, validate

from consent_service.api.schemas.common import KEY, AuditEntryOut, StrictSchema, SubjectRefIn
from consent_service.vault import service as vault


class VaultEncryptIn(SubjectRefIn):
    field = fields.Str(
        required=True,
        validate=validate.Regexp(
            vault.FIELD.pattern, error="1-64 of a-z, 0-9, '_' and '.', starting with a letter"
        ),
    )
    value = fields.Str(required=True, validate=validate.Length(0, 4096))


class VaultBatchIn(StrictSchema):
    items = fields.List(fields.Nested(VaultEncryptIn), required=True, validate=validate.Length(1, 1000))


class VaultTokenOut(StrictSchema):
    token = fields.Str()


class VaultTokensOut(StrictSchema):
    tokens = fields.List(fields.Str())


class VaultDecryptIn(StrictSchema):
    token = fields.Str(
        required=True,
        validate=[validate.Length(1, 8192), validate.Regexp(r"^vt1\.", error="not a vault token (vt1.…)")],
    )
    purpose = fields.Str(required=True, validate=KEY)


class VaultValueOut(StrictSchema):
    value = fields.Str()
    subject_id = fields.Str()
    field = fields.Str()
    purpose = fields.Str()
    reason = fields.Str()
    access_log_seq = fields.Int()


class AccessLogOut(StrictSchema):
    entries = fields.List(fields.Nested(AuditEntryOut))
    next_after = fields.Int()
    has_more = fields.Bool()
