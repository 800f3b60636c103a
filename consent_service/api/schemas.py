"""Marshmallow schemas of the public API (request bodies, queries and responses)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from consent_service import durations
from consent_service.api.boundary import StrictBool
from consent_service.api.openapi import exactly_one_of
from consent_service.auth.service import SCOPES
from consent_service.ledger.service import CHANNELS, METHODS
from consent_service.registry import automated, taxonomy
from consent_service.registry.service import MAX_CONSENT_VALIDITY, REQUIRED_LANGUAGES
from consent_service.registry.taxonomy import LEGAL_BASES
from consent_service.stores.spec import KEY_RE
from consent_service.subjects.service import IDENTITY_TYPES

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


# Registry -------------------------------------------------------------------------------


def _purpose_rules() -> dict[str, Any]:
    languages = {"type": "object", "required": list(REQUIRED_LANGUAGES)}
    texts = {**languages, "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 5000}}
    return {
        "properties": {
            "titles": languages,
            "descriptions": languages,
            "automated_decisions": _automated_decisions(texts),
            "data_categories": {"items": {"enum": sorted(taxonomy.data_categories())}},
            "data_uses": {"items": {"enum": sorted(taxonomy.data_uses())}},
        }
    }


def _automated_decisions(texts: dict[str, Any]) -> dict[str, Any]:
    return {
        "oneOf": [
            {"type": "string", "enum": [automated.NONE]},
            {
                "type": "object",
                "required": list(automated.PARTS),
                "properties": dict.fromkeys(automated.PARTS, texts),
                "additionalProperties": False,
            },
        ]
    }


AUTOMATED_DECISIONS_HELP = (
    "Art. 15(1)(h): 'none', or the logic of the automated decisions or profiling and their "
    "consequences for the person, {logic: {lang: text}, consequences: {lang: text}}"
)


class PurposeIn(StrictSchema):
    OPENAPI = _purpose_rules  # the required languages and the fideslang taxonomy

    titles = fields.Dict(
        keys=fields.Str(validate=validate.Length(2, 8)),
        values=fields.Str(validate=validate.Length(1, 300)),
        required=True,
    )
    descriptions = fields.Dict(
        keys=fields.Str(validate=validate.Length(2, 8)),
        values=fields.Str(validate=validate.Length(1, 5000)),
        required=True,
    )
    legal_basis = fields.Str(required=True, validate=validate.OneOf(LEGAL_BASES))
    data_categories = fields.List(
        fields.Str(validate=validate.Length(1, 200)), required=True, validate=validate.Length(max=100)
    )
    data_uses = fields.List(
        fields.Str(validate=validate.Length(1, 200)), required=True, validate=validate.Length(1, 100)
    )
    consent_validity = fields.Str(
        load_default="P12M",
        validate=DURATION,
        metadata={"description": f"ISO 8601 duration, at most {MAX_CONSENT_VALIDITY}"},
    )
    retention_period = fields.Str(load_default=None, allow_none=True, validate=DURATION)
    automated_decisions = fields.Raw(
        load_default=automated.NONE, metadata={"description": AUTOMATED_DECISIONS_HELP}
    )
    direct_marketing = StrictBool(load_default=False)
    honor_gpc = StrictBool(load_default=False)


class PurposeVersionOut(StrictSchema):
    version = fields.Int()
    content_hash = fields.Str()
    titles = fields.Dict()
    descriptions = fields.Dict()
    legal_basis = fields.Str()
    data_categories = fields.List(fields.Str())
    data_uses = fields.List(fields.Str())
    automated_decisions = fields.Raw(metadata={"description": AUTOMATED_DECISIONS_HELP})
    created_at = fields.DateTime()


class PurposeOut(StrictSchema):
    key = fields.Str()
    version = fields.Int()
    content_hash = fields.Str()
    titles = fields.Dict()
    descriptions = fields.Dict()
    legal_basis = fields.Str()
    data_categories = fields.List(fields.Str())
    data_uses = fields.List(fields.Str())
    automated_decisions = fields.Raw(metadata={"description": AUTOMATED_DECISIONS_HELP})
    consent_validity = fields.Str()
    retention_period = fields.Str(allow_none=True)
    direct_marketing = fields.Bool()
    honor_gpc = fields.Bool()
    consent_collected_at = fields.DateTime(
        allow_none=True,
        metadata={
            "description": "when the first consent decision for this purpose was recorded; from then "
            "on its legal basis cannot change from consent (409)"
        },
    )
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    new_version = fields.Bool(metadata={"description": "PUT only: whether this call created a version"})
    versions = fields.List(fields.Nested(PurposeVersionOut), metadata={"description": "GET one only"})


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


class CookieOut(StrictSchema):
    name = fields.Str()
    domain = fields.Str()
    provider = fields.Str()
    duration = fields.Str()
    purpose = fields.Str()
    description = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


# Subjects and consents -------------------------------------------------------------------


class IdentityIn(StrictSchema):
    type = fields.Str(required=True, validate=validate.OneOf(IDENTITY_TYPES))
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


class HistoryEventOut(EventOut):
    proof = fields.Raw(
        allow_none=True,
        metadata={
            "description": "decrypted proof; '[expired]' after its retention (CONSENT_PROOF_RETENTION), "
            "'[erased]' once the subject is shredded"
        },
    )


class ConsentOut(StrictSchema):
    subject_id = fields.Str()
    subject_created = fields.Bool()
    events = fields.List(fields.Nested(EventOut))
    receipt = fields.Dict(metadata={"description": "signed consent receipt (payload + Ed25519 signature)"})


class DecisionQuery(SubjectRefIn):
    purpose = fields.Str(required=True, validate=KEY)


class DecisionOut(StrictSchema):
    allowed = fields.Bool()
    reason = fields.Str()
    legal_basis = fields.Str()
    event_id = fields.Str(allow_none=True)
    valid_until = fields.DateTime(allow_none=True)


class SubjectList(fields.Field):
    """Up to 10,000 subjects: subject ids (strings) or identity objects ``{type, value}``.

    Validated in one loop rather than one marshmallow field per item: a 10,000-item batch would
    otherwise spend longer in validation than in answering.
    """

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list):
            raise ValidationError("a list of subject ids or {type, value} objects")
        if not 1 <= len(value) <= 10_000:
            raise ValidationError("give 1 to 10,000 subjects")
        errors: dict[int, list[str]] = {}
        for index, item in enumerate(value):
            if isinstance(item, str):
                if 0 < len(item) <= 40:
                    continue
            elif (
                isinstance(item, dict)
                and len(item) == 2
                and item.get("type") in IDENTITY_TYPES
                and isinstance(item.get("value"), str)
                and 0 < len(item["value"]) <= 320
            ):
                continue
            errors[index] = ["a subject id or {type, value} with a known identity type"]
            if len(errors) >= 20:
                break
        if errors:
            raise ValidationError(errors)
        return value


class BatchQuery(StrictSchema):
    purpose = fields.Str(required=True, validate=KEY)
    subjects = SubjectList(
        required=True,
        metadata={
            "type": "array",
            "items": {
                "oneOf": [
                    {"type": "string", "minLength": 1, "maxLength": 40},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "enum": list(IDENTITY_TYPES)},
                            "value": {"type": "string", "minLength": 1, "maxLength": 320},
                        },
                        "required": ["type", "value"],
                        "additionalProperties": False,
                    },
                ]
            },
            "minItems": 1,
            "maxItems": 10_000,
            "description": "subject ids or {type, value}",
        },
    )


class BatchOut(StrictSchema):
    purpose = fields.Str()
    results = fields.List(fields.Nested(DecisionOut))


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


class HistoryOut(StrictSchema):
    subject_id = fields.Str()
    root_id = fields.Str()
    identities = fields.List(fields.Dict())
    events = fields.List(fields.Nested(HistoryEventOut))


class FeedQuery(StrictSchema):
    after = fields.Int(load_default=0, validate=validate.Range(0, MAX_SEQ))
    limit = fields.Int(load_default=100, validate=validate.Range(1, 1000))


class FeedOut(StrictSchema):
    events = fields.List(fields.Nested(EventOut))
    next_after = fields.Int()
    has_more = fields.Bool()


class VerifyOut(StrictSchema):
    ok = fields.Bool()
    events_checked = fields.Int()
    head_seq = fields.Int()
    head_hash = fields.Str()
    first_bad_seq = fields.Int(allow_none=True)
    problem = fields.Str(allow_none=True)
    checkpoints_checked = fields.Int()


class SignedOut(StrictSchema):
    payload = fields.Dict()
    signature = fields.Dict()


class PublicKeyOut(StrictSchema):
    key_id = fields.Str()
    algorithm = fields.Str()
    public_key = fields.Str(metadata={"description": "raw Ed25519 key, base64"})
    public_key_pem = fields.Str()


class DeviceIdentityIn(StrictSchema):
    type = fields.Str(
        required=True, validate=validate.OneOf(("device_id",), error="banners record device ids only")
    )
    value = fields.Str(required=True, validate=validate.Length(1, 320))


class PublicConsentIn(StrictSchema):
    subject = fields.Nested(DeviceIdentityIn, required=True)
    decisions = fields.List(fields.Nested(DecisionIn), required=True, validate=validate.Length(1, 200))
    method = fields.Str(required=True, validate=validate.OneOf(("accept_all", "reject_all", "custom")))
    language = fields.Str(load_default=None, validate=validate.Length(2, 16))
    jurisdiction = fields.Str(load_default=None, validate=validate.Length(2, 16))
    collection_point = fields.Str(load_default=None, validate=validate.Length(max=200))
    url = fields.Str(load_default=None, validate=validate.Length(max=2000))
    tc_string = fields.Str(load_default=None, validate=validate.Length(max=10000))
    gpp_string = fields.Str(load_default=None, validate=validate.Length(max=10000))


class BannerConfigOut(StrictSchema):
    site = fields.Dict()
    purposes = fields.List(fields.Dict())
    cookies = fields.List(fields.Nested(CookieOut))


class HealthOut(StrictSchema):
    status = fields.Str()
    database = fields.Str()


__all__ = ["SCOPES"]


# Audit entries and shredding ---------------------------------------------------------------------------


class AuditEntryOut(StrictSchema):
    seq = fields.Int()
    recorded_at = fields.DateTime()
    actor = fields.Str()
    action = fields.Str()
    subject_id = fields.Str(allow_none=True)
    details = fields.Dict()
    hash = fields.Str()


class ShredOut(StrictSchema):
    subject_id = fields.Str()
    shredded_subjects = fields.List(fields.Str())
    already_shredded = fields.Bool()
    shredded_at = fields.DateTime()
    events = fields.List(fields.Dict())
