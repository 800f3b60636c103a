"""What every schema module shares: the base class, common validators (KEY, NOTE, DURATION),
identities and subject references, the feed query and audit entries."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from consent_service import durations
from consent_service.api.openapi import exactly_one_of
from consent_service.stores.spec import KEY_RE
from consent_service.subjects.identity_types import KEY_PATTERN

DURATION_PATTERN = durations.PATTERN


DURATION = validate.Regexp(
    DURATION_PATTERN, error="'{input}' is not an ISO 8601 duration such as P12M or P30D"
)


NOTE = validate.Regexp(r"\S", error="must not be blank")


MAX_SEQ = 2**63 - 1  # ledger and log positions are signed 64-bit columns


KEY = validate.Regexp(KEY_RE.pattern, error="use 1-64 of a-z, 0-9, '_', '.', '-'")


class StrictSchema(Schema):
    class Meta:
        ordered = True


# An identity type's shape; whether it is built in or registered is the service's to say (422
# naming the known types), since operators register types at run time (/v1/identity-types).
IDENTITY_TYPE = validate.Regexp(
    KEY_PATTERN, error="an identity type: email, phone, customer_id, device_id or a registered one"
)
IDENTITY_TYPE_DOC = (
    "email, phone, customer_id, device_id or a type registered with PUT /v1/identity-types/<key>"
)


class IdentityIn(StrictSchema):
    type = fields.Str(required=True, validate=IDENTITY_TYPE, metadata={"description": IDENTITY_TYPE_DOC})
    value = fields.Str(required=True, validate=validate.Length(1, 320))


class SubjectRefIn(StrictSchema):
    """Either ``subject`` (an identity) or ``subject_id``."""

    OPENAPI = exactly_one_of("subject", "subject_id")

    subject = fields.Nested(IdentityIn)
    subject_id = fields.Str(validate=validate.Length(1, 40))

    @validates_schema
    def _one_subject(self, data: dict[str, Any], **_: Any) -> None:
        if ("subject" in data) == ("subject_id" in data):
            raise ValidationError("give exactly one of 'subject' or 'subject_id'", "subject")


class FeedQuery(StrictSchema):
    after = fields.Int(load_default=0, validate=validate.Range(0, MAX_SEQ))
    limit = fields.Int(load_default=100, validate=validate.Range(1, 1000))


class EventFeedQuery(FeedQuery):
    purpose = fields.List(
        fields.Str(validate=validate.Length(1, 1000)),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "only decisions on these purposes: repeated, or a comma list"},
    )
    subject_id = fields.Str(
        load_default=None,
        validate=validate.Length(1, 40),
        metadata={"description": "only this subject's own events"},
    )


class AuditEntryOut(StrictSchema):
    seq = fields.Int()
    recorded_at = fields.DateTime()
    actor = fields.Str()
    action = fields.Str()
    subject_id = fields.Str(allow_none=True)
    details = fields.Dict()
    hash = fields.Str()
