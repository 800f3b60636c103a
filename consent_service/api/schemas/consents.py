"""Schemas of ``/v1/consents`` and the event feed ``/v1/events``."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema

from consent_service.api.boundary import StrictBool
from consent_service.api.openapi import exactly_one_of
from consent_service.api.schemas.common import KEY, StrictSchema, SubjectRefIn
from consent_service.ledger.service import CHANNELS, METHODS


class DecisionIn(StrictSchema):
    OPENAPI = exactly_one_of("purpose", "cookie")

    purpose = fields.Str(validate=KEY)
    cookie = fields.Str(validate=validate.Length(1, 128))
    granted = StrictBool(required=True)

    @validates_schema
    def _one_target(self, data: dict[str, Any], **_: Any) -> None:
        if ("purpose" in data) == ("cookie" in data):
            raise ValidationError("give exactly one of 'purpose' or 'cookie'", "purpose")


class ProofIn(StrictSchema):
    OPENAPI = {"properties": {"ip": {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]}}}

    ip = fields.Str(validate=validate.Length(1, 64))
    user_agent = fields.Str(validate=validate.Length(max=1000))
    url = fields.Str(validate=validate.Length(max=2000))
    gpc = StrictBool()
    tc_string = fields.Str(validate=validate.Length(max=10000))
    gpp_string = fields.Str(validate=validate.Length(max=10000))


class ConsentIn(SubjectRefIn):
    decisions = fields.List(fields.Nested(DecisionIn), required=True, validate=validate.Length(1, 200))
    channel = fields.Str(required=True, validate=validate.OneOf(CHANNELS))
    method = fields.Str(required=True, validate=validate.OneOf(METHODS))
    collection_point = fields.Str(load_default=None, validate=validate.Length(max=200))
    language = fields.Str(load_default=None, validate=validate.Length(2, 16))
    jurisdiction = fields.Str(load_default=None, validate=validate.Length(2, 16))
    proof = fields.Nested(ProofIn, load_default=dict)


class EventOut(StrictSchema):
    id = fields.Str()
    seq = fields.Int()
    kind = fields.Str()
    subject_id = fields.Str()
    related_subject_id = fields.Str(allow_none=True)
    purpose = fields.Str(allow_none=True)
    cookie = fields.Str(allow_none=True)
    decision = fields.Str(allow_none=True)
    purpose_version = fields.Int(allow_none=True)
    purpose_hash = fields.Str(allow_none=True)
    channel = fields.Str(allow_none=True)
    method = fields.Str(allow_none=True)
    collection_point = fields.Str(allow_none=True)
    language = fields.Str(allow_none=True)
    jurisdiction = fields.Str(allow_none=True)
    recorded_at = fields.DateTime()
    valid_until = fields.DateTime(allow_none=True)
    actor_type = fields.Str()
    actor_id = fields.Str()
    hash = fields.Str()
    related_event_id = fields.Str(
        allow_none=True,
        metadata={
            "description": "the event this one follows from: a double opt-in confirmation names its pending grant"
        },
    )
    recorded_at_source = fields.DateTime(
        allow_none=True,
        metadata={"description": "for an imported event: when the source platform recorded it"},
    )
    source = fields.Str(
        allow_none=True, metadata={"description": "for an imported event: the platform it came from"}
    )


class ConsentOut(StrictSchema):
    subject_id = fields.Str()
    subject_created = fields.Bool()
    events = fields.List(fields.Nested(EventOut))
    receipt = fields.Dict(metadata={"description": "signed consent receipt (payload + Ed25519 signature)"})


class FeedEventOut(EventOut):
    identity_types = fields.List(
        fields.Str(), metadata={"description": "the types of the subject's identities (never their values)"}
    )


class FeedOut(StrictSchema):
    events = fields.List(fields.Nested(FeedEventOut))
    next_after = fields.Int()
    has_more = fields.Bool()
