"""Schemas of ``/v1/retention`` (rules, preview, runs) and ``/v1/holds``."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from consent_service.api.boundary import StrictBool
from consent_service.api.schemas.common import DURATION, KEY, NOTE, StrictSchema
from consent_service.registry import taxonomy
from consent_service.retention.rules import ACTIONS, FIELD_TRIGGERS, TRIGGERS
from consent_service.stores.spec import NAME_RE

NAME = validate.Regexp(NAME_RE.pattern, error="a letter or '_', then letters, digits or '_' (at most 63)")


def _scope_rules() -> dict[str, Any]:
    return {
        "anyOf": [{"not": {"required": ["collection"]}}, {"required": ["store"]}],  # collection needs store
        "minProperties": 1,
        "properties": {"category": {"enum": sorted(taxonomy.data_categories())}},
    }


class RuleScopeIn(StrictSchema):
    OPENAPI = _scope_rules

    purpose = fields.Str(validate=KEY)
    category = fields.Str(validate=validate.Length(1, 200), metadata={"description": "e.g. user.contact"})
    store = fields.Str(validate=KEY)
    collection = fields.Str(validate=NAME, metadata={"description": "needs store"})


class RuleTriggerIn(StrictSchema):
    OPENAPI = {  # a field trigger names the record's timestamp field; consent_ended a purpose
        "oneOf": [
            {
                "properties": {"type": {"enum": list(FIELD_TRIGGERS)}},
                "required": ["field"],
                "not": {"required": ["purpose"]},
            },
            {"properties": {"type": {"enum": ["consent_ended"]}}, "not": {"required": ["field"]}},
        ]
    }

    type = fields.Str(required=True, validate=validate.OneOf(TRIGGERS))
    field = fields.Str(
        validate=NAME,
        metadata={"description": "since_field, last_activity, contract_end: the record's timestamp field"},
    )
    purpose = fields.Str(
        validate=KEY,
        metadata={"description": "consent_ended: the purpose (default: applies_to.purpose)"},
    )


class RuleIn(StrictSchema):
    OPENAPI = {  # consent_ended needs a purpose: its own or the one the rule applies to
        "anyOf": [
            {"properties": {"trigger": {"properties": {"type": {"enum": list(FIELD_TRIGGERS)}}}}},
            {"properties": {"trigger": {"required": ["purpose"]}}},
            {"properties": {"applies_to": {"required": ["purpose"]}}},
        ]
    }

    description = fields.Str(load_default="", validate=validate.Length(max=2000))
    applies_to = fields.Nested(RuleScopeIn, required=True)
    period = fields.Str(required=True, validate=DURATION, metadata={"description": "ISO 8601, e.g. P2Y"})
    trigger = fields.Nested(RuleTriggerIn, required=True)
    action = fields.Str(required=True, validate=validate.OneOf(ACTIONS))


class RuleVersionOut(StrictSchema):
    version = fields.Int()
    content_hash = fields.Str()
    description = fields.Str()
    applies_to = fields.Dict()
    period = fields.Str()
    trigger = fields.Dict()
    action = fields.Str()
    created_at = fields.DateTime()
    created_by = fields.Str()


class RuleOut(StrictSchema):
    key = fields.Str()
    version = fields.Int()
    active = fields.Bool()
    description = fields.Str()
    applies_to = fields.Dict()
    period = fields.Str()
    trigger = fields.Dict()
    action = fields.Str()
    in_words = fields.Str()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    outcome = fields.Str(metadata={"description": "PUT only: created, new_version, reactivated or unchanged"})
    versions = fields.List(fields.Nested(RuleVersionOut), metadata={"description": "GET one only"})


class RuleListQuery(StrictSchema):
    include_retired = fields.Bool(load_default=False)


class HoldScopeIn(StrictSchema):
    OPENAPI = {  # a subject, a store, or a store and one of its collections
        "oneOf": [{"required": ["subject"]}, {"required": ["store"]}],
        "anyOf": [{"not": {"required": ["collection"]}}, {"required": ["store"]}],
    }

    subject = fields.Str(validate=validate.Length(1, 40), metadata={"description": "a subject id"})
    store = fields.Str(validate=KEY)
    collection = fields.Str(validate=NAME, metadata={"description": "needs store"})


class HoldIn(StrictSchema):
    scope = fields.Nested(HoldScopeIn, required=True)
    reason = fields.Str(required=True, validate=[validate.Length(1, 2000), NOTE])
    ends_at = fields.DateTime(
        load_default=None, allow_none=True, metadata={"description": "with an offset; none: until released"}
    )
    purpose = fields.Str(
        load_default=None,
        allow_none=True,
        validate=KEY,
        metadata={
            "description": "the registered purpose (not on consent) the data is kept for; after an "
            "erasure kept under a hold on the subject, only this purpose may still be processed. "
            "Set once: it cannot change afterwards"
        },
    )


class ReleaseIn(StrictSchema):
    reason = fields.Str(required=True, validate=[validate.Length(1, 2000), NOTE])


class HoldOut(StrictSchema):
    key = fields.Str()
    scope = fields.Dict(metadata={"description": "{subject} | {store} | {store, collection}"})
    reason = fields.Str()
    ends_at = fields.DateTime(allow_none=True)
    purpose = fields.Str(allow_none=True)
    active = fields.Bool()
    created_at = fields.DateTime()
    created_by = fields.Str()
    updated_at = fields.DateTime()
    released_at = fields.DateTime(allow_none=True)
    released_by = fields.Str(allow_none=True)
    release_reason = fields.Str(allow_none=True)


class HoldListQuery(StrictSchema):
    active = fields.Bool(load_default=False, metadata={"description": "only holds in force now"})


class PreviewQuery(StrictSchema):
    store = fields.Str(validate=validate.Length(1, 64), metadata={"description": "only this store"})


class RunIn(StrictSchema):
    dry_run = StrictBool(load_default=False, metadata={"description": "count only, change nothing"})
    store = fields.Str(
        load_default=None,
        allow_none=True,
        validate=validate.Length(1, 64),
        metadata={"description": "only this store; the service's own data is then left out"},
    )


class RunsQuery(StrictSchema):
    limit = fields.Int(load_default=50, validate=validate.Range(1, 500))


class LogRef(StrictSchema):
    log = fields.Str()
    seq = fields.Int()
    hash = fields.Str(allow_none=True)


class RunOut(StrictSchema):
    id = fields.Str()
    state = fields.Str(metadata={"description": "queued | running | completed | failed | interrupted"})
    dry_run = fields.Bool()
    store = fields.Str(allow_none=True)
    started_by = fields.Str()
    started_at = fields.DateTime()
    heartbeat_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    error = fields.Str(allow_none=True)
    audit_seq = fields.Int(allow_none=True, metadata={"description": "entry of the `retention` audit log"})
    log = fields.Nested(LogRef)
    report = fields.Dict(
        metadata={
            "description": "per rule and store: candidates, deleted, anonymised, shredded, held, errors"
        }
    )


class SweepReportOut(StrictSchema):
    dry_run = fields.Bool()
    store = fields.Str(allow_none=True)
    now = fields.Str(metadata={"description": "the moment the periods were counted back from"})
    rules = fields.List(
        fields.Dict(),
        metadata={
            "description": "per rule, store and collection: status, candidates, deleted, anonymised, "
            "shredded, held (with held_by: which hold and why), errors, batches, longest_transaction_ms"
        },
    )
    skipped = fields.List(fields.Dict(), metadata={"description": "rules or collections left out, and why"})
    holds = fields.List(fields.Dict(), metadata={"description": "the legal holds in force"})
    service = fields.Dict(metadata={"description": "the service's own data: proofs, codes, packages, ..."})
    totals = fields.Dict()
