"""Schemas of ``/v1/requests`` and ``/v1/packages``: data subject requests, their tasks,
reports and packages."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from consent_service.api.openapi import exactly_one_of
from consent_service.api.schemas.common import DURATION, KEY, NOTE, AuditEntryOut, IdentityIn, StrictSchema
from consent_service.dsar import package


class VerificationIn(StrictSchema):
    OPENAPI = {  # a DPO's verification is recorded with the DPO's note
        "oneOf": [
            {"properties": {"method": {"enum": ["email"]}}},
            {"properties": {"method": {"enum": ["dpo"]}}, "required": ["note"]},
        ]
    }

    method = fields.Str(required=True, validate=validate.OneOf(("email", "dpo")))
    note = fields.Str(validate=[validate.Length(max=2000), NOTE])


class RequestIn(StrictSchema):
    OPENAPI = {  # an objection names its purposes; a rectification gives the corrected values
        "allOf": [
            {
                "anyOf": [
                    {"properties": {"type": {"not": {"enum": ["objection"]}}}},
                    {"properties": {"purposes": {"minItems": 1}}, "required": ["purposes"]},
                ]
            },
            {
                "anyOf": [
                    {"properties": {"type": {"not": {"enum": ["rectification"]}}}},
                    {"properties": {"changes": {"minProperties": 1}}, "required": ["changes"]},
                ]
            },
        ]
    }

    type = fields.Str(
        required=True,
        validate=validate.OneOf(
            ("access", "erasure", "rectification", "restriction", "objection", "portability")
        ),
    )
    identities = fields.List(fields.Nested(IdentityIn), required=True, validate=validate.Length(1, 10))
    purposes = fields.List(fields.Str(validate=KEY), load_default=list, validate=validate.Length(max=100))
    changes = fields.Dict(keys=fields.Str(validate=validate.Length(1, 100)), load_default=dict)
    verification = fields.Nested(VerificationIn, required=True)
    language = fields.Str(
        validate=[validate.Length(2, 16), validate.Regexp(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}$")],
        metadata={
            "description": "the language the person wrote in (BCP 47: de, en, de-AT); messages use "
            "the closest supported one (de, en), else CONSENT_DEFAULT_LANGUAGE. Default: that one"
        },
    )
    received_at = fields.AwareDateTime(
        format="iso",
        metadata={
            "description": "when a request that came by post or e-mail arrived (with its UTC offset; "
            "not in the future, not before 2018-05-25); the deadline counts from it. Default: now"
        },
    )


class RepeatsOut(StrictSchema):
    count = fields.Int()
    window = fields.Str(metadata={"description": "CONSENT_REPEAT_WINDOW, an ISO 8601 duration"})
    request_ids = fields.List(fields.Str())


class MessageOut(StrictSchema):
    id = fields.Str(allow_none=True)
    kind = fields.Str(metadata={"description": "received, verification_code, extended, refused, completed_…"})
    language = fields.Str(allow_none=True)
    to = fields.Str(allow_none=True, metadata={"description": "the address, masked"})
    state = fields.Str(
        metadata={
            "description": "pending, sending, sent, dead; deleted after CONSENT_OUTBOX_RETENTION; "
            "not_sent when the person has no e-mail address (tell them by post)"
        }
    )
    note = fields.Str()
    queued_at = fields.DateTime()


class RequestOut(StrictSchema):
    id = fields.Str()
    type = fields.Str()
    state = fields.Str()
    subject_id = fields.Str()
    purposes = fields.List(fields.Str())
    verification_method = fields.Str()
    received_at = fields.DateTime()
    due_at = fields.DateTime()
    original_due_at = fields.DateTime()
    extension_months = fields.Int()
    verified_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)
    overdue = fields.Bool()
    failure_reason = fields.Str(
        allow_none=True,
        metadata={"description": "why the last run failed (state failed), for the DPO; null otherwise"},
    )
    language = fields.Str(metadata={"description": "the language tag the person's messages are chosen by"})
    refusal_ground = fields.Str(
        allow_none=True,
        metadata={
            "description": "manifestly_unfounded, excessive, identity_not_verified or other; null unless rejected"
        },
    )
    repeats = fields.Nested(
        RepeatsOut,
        metadata={"description": "earlier requests of the same type by the same person (Art. 12(5))"},
    )


class RequestDetailOut(RequestOut):
    identities = fields.Raw(
        metadata={
            "description": "the requester's identities, each with its verification (code, dpo, "
            "linked or pending: a run uses only the verified ones); '[purged]' after their retention "
            "(CONSENT_REQUEST_CONTACT_RETENTION), '[erased]' once the subject is shredded"
        }
    )
    in_force = fields.List(fields.Dict())
    messages = fields.List(
        fields.Nested(MessageOut),
        metadata={"description": "what the person was told, and whether it went out"},
    )
    audit_trail = fields.List(fields.Nested(AuditEntryOut))
    audit_trail_ok = fields.Bool()


class RequestListQuery(StrictSchema):
    state = fields.Str()
    type = fields.Str()
    overdue = fields.Bool(load_default=False)
    due_within = fields.Str(validate=DURATION, metadata={"description": "ISO 8601 duration, e.g. P7D"})


class VerifyRequestIn(StrictSchema):
    # exactly one of code and note; identities only with a note (a DPO names what they verified)
    OPENAPI = {
        "allOf": [
            exactly_one_of("code", "note"),
            {"anyOf": [{"not": {"required": ["identities"]}}, {"required": ["note"]}]},
        ]
    }

    code = fields.Str(validate=validate.Length(1, 12))
    note = fields.Str(
        validate=[validate.Length(1, 2000), NOTE],
        metadata={"description": "DPO verification instead of a code"},
    )
    identities = fields.List(
        fields.Int(strict=True, validate=validate.Range(0, 9)),
        validate=validate.Length(1, 10),
        metadata={
            "description": "with a note: the positions of the identities the DPO verified (default all)"
        },
    )

    @validates_schema
    def _one(self, data: dict[str, Any], **_: Any) -> None:
        if ("code" in data) == ("note" in data):
            raise ValidationError("give exactly one of 'code' or 'note'", "code")
        if "identities" in data and "note" not in data:
            raise ValidationError("identities are named with a DPO note only", "identities")


class ExtendIn(StrictSchema):
    months = fields.Int(required=True, validate=validate.OneOf((1, 2)))
    reason = fields.Str(required=True, validate=[validate.Length(1, 2000), NOTE])


class RejectIn(StrictSchema):
    OPENAPI = {  # every ground but identity_not_verified needs the DPO's reason
        "anyOf": [
            {"properties": {"ground": {"enum": ["identity_not_verified"]}}},
            {"required": ["reason"]},
        ]
    }

    ground = fields.Str(
        required=True,
        validate=validate.OneOf(("manifestly_unfounded", "excessive", "identity_not_verified", "other")),
        metadata={
            "description": "Art. 12(5): manifestly_unfounded or excessive; identity_not_verified; other"
        },
    )
    reason = fields.Str(
        validate=[validate.Length(1, 2000), NOTE],
        metadata={"description": "the reasons the person is told; optional for identity_not_verified"},
    )

    @validates_schema
    def _reason(self, data: dict[str, Any], **_: Any) -> None:
        if "reason" not in data and data.get("ground") != "identity_not_verified":
            raise ValidationError("a refusal on this ground needs a reason", "reason")


class ReasonIn(StrictSchema):
    reason = fields.Str(required=True, validate=[validate.Length(1, 2000), NOTE])


class PackageQuery(Schema):
    format = fields.Str(load_default="json", validate=validate.OneOf(package.FORMATS))
    collection = fields.Str(load_default=None, metadata={"description": "csv only: one store.collection"})


class ReportOut(Schema):
    store = fields.Str()
    created_at = fields.DateTime()
    report = fields.Dict()


class TaskOut(Schema):
    id = fields.Str()
    request_id = fields.Str()
    store = fields.Str()
    instructions = fields.Str()
    due_at = fields.DateTime(allow_none=True)
    state = fields.Str()
    note = fields.Str(allow_none=True)
    done_by = fields.Str(allow_none=True)
    done_at = fields.DateTime(allow_none=True)


class CompleteTaskIn(Schema):
    note = fields.Str(required=True, validate=[validate.Length(1, 5000), NOTE])


class CompleteTaskOut(Schema):
    task = fields.Nested(TaskOut)
    request = fields.Nested(RequestOut)


class PackageLinkOut(Schema):
    url = fields.Str()
    expires_at = fields.DateTime()
