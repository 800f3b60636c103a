"""Schemas of ``/v1/subjects``: current consents, history, links and shredding."""

from __future__ import annotations

from marshmallow import fields

from consent_service.api.schemas.common import StrictSchema, SubjectRefIn
from consent_service.api.schemas.consents import EventOut


class SubjectIdOut(StrictSchema):
    subject_id = fields.Str()


class LinkIn(StrictSchema):
    from_ = fields.Nested(SubjectRefIn, data_key="from", required=True)
    to = fields.Nested(SubjectRefIn, required=True)


class LinkOut(StrictSchema):
    linked = fields.Bool()
    root_id = fields.Str()
    event = fields.Dict(allow_none=True)


class CurrentConsentOut(StrictSchema):
    target_type = fields.Str()
    target_key = fields.Str()
    decision = fields.Str(
        allow_none=True, metadata={"description": "null when the projection does not match its event"}
    )
    reason = fields.Str()
    event_id = fields.Str()
    seq = fields.Int()
    subject_id = fields.Str()
    purpose_version = fields.Int(allow_none=True)
    recorded_at = fields.DateTime()
    valid_until = fields.DateTime(allow_none=True)


class SubjectConsentsOut(StrictSchema):
    subject_id = fields.Str()
    root_id = fields.Str()
    consents = fields.List(fields.Nested(CurrentConsentOut))


class HistoryEventOut(EventOut):
    proof = fields.Raw(
        allow_none=True,
        metadata={
            "description": "decrypted proof; '[expired]' after its retention (CONSENT_PROOF_RETENTION), "
            "'[erased]' once the subject is shredded"
        },
    )


class HistoryOut(StrictSchema):
    subject_id = fields.Str()
    root_id = fields.Str()
    identities = fields.List(fields.Dict())
    events = fields.List(fields.Nested(HistoryEventOut))


class ShredOut(StrictSchema):
    subject_id = fields.Str()
    shredded_subjects = fields.List(fields.Str())
    already_shredded = fields.Bool()
    shredded_at = fields.DateTime()
    events = fields.List(fields.Dict())
