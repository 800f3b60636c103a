"""``/v1/retention/rules`` and ``/v1/holds``: how long data is kept, and what must be kept anyway.

Rules are applied by the retention sweeper, not here; these endpoints only define them. The
registry and store checks live in ``consent_service.retention``; problems found there come back
as 422 with ``errors`` keyed by dotted paths (``applies_to.purpose``, ``trigger.field``).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas import DURATION, KEY, NOTE, StrictSchema
from consent_service.registry import taxonomy
from consent_service.retention import service as retention
from consent_service.retention.rules import ACTIONS, FIELD_TRIGGERS, TRIGGERS
from consent_service.stores.spec import NAME_RE

SCOPE = "dsar:manage"

rules_blp = Blueprint(
    "retention_rules",
    __name__,
    url_prefix="/v1/retention/rules",
    description="Retention rules: how long personal data is kept and what happens after",
)
holds_blp = Blueprint(
    "holds",
    __name__,
    url_prefix="/v1/holds",
    description="Legal holds: data retention and erasure must not remove",
)

NAME = validate.Regexp(NAME_RE.pattern, error="a letter or '_', then letters, digits or '_' (at most 63)")


# Rules ----------------------------------------------------------------------------------------


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


@rules_blp.route("")
class Rules(MethodView):
    @require(SCOPE)
    @rules_blp.arguments(RuleListQuery, location="query")
    @rules_blp.response(200, RuleOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List the active retention rules (and retired ones with include_retired=true)."""
        return retention.read_rules(ctx(), include_retired=query["include_retired"])


@rules_blp.route("/<key:key>")
class RuleByKey(MethodView):
    @require(SCOPE)
    @rules_blp.arguments(RuleIn)
    @rules_blp.response(200, RuleOut)
    @rules_blp.alt_response(201, schema=RuleOut, description="Created")
    def put(self, doc: dict[str, Any], key: str) -> tuple[dict[str, Any], int]:
        """Create, change (new version) or reactivate a retention rule."""
        view, outcome = retention.save_rule(ctx(), key, doc, actor=principal().id)
        return {**view, "outcome": outcome}, 201 if outcome == "created" else 200

    @require(SCOPE)
    @rules_blp.response(200, RuleOut)
    def get(self, key: str) -> dict[str, Any]:
        """Show a retention rule with all its versions."""
        return retention.read_rule(ctx(), key)

    @require(SCOPE)
    @rules_blp.response(204)
    def delete(self, key: str) -> None:
        """Retire a retention rule (its versions are kept; a PUT reactivates it)."""
        retention.retire_rule(ctx(), key)


# Holds ----------------------------------------------------------------------------------------


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


@holds_blp.route("")
class Holds(MethodView):
    @require(SCOPE)
    @holds_blp.arguments(HoldListQuery, location="query")
    @holds_blp.response(200, HoldOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List legal holds (only those in force with active=true)."""
        return retention.read_holds(ctx(), active_only=query["active"])


@holds_blp.route("/<key:key>")
class HoldByKey(MethodView):
    @require(SCOPE)
    @holds_blp.arguments(HoldIn)
    @holds_blp.response(200, HoldOut)
    @holds_blp.alt_response(201, schema=HoldOut, description="Created")
    def put(self, doc: dict[str, Any], key: str) -> tuple[dict[str, Any], int]:
        """Place a legal hold, or change its reason or end (its scope cannot change)."""
        view, created = retention.save_hold(ctx(), key, doc, actor=principal().id)
        return view, 201 if created else 200

    @require(SCOPE)
    @holds_blp.response(200, HoldOut)
    def get(self, key: str) -> dict[str, Any]:
        """Show a legal hold."""
        return retention.read_hold(ctx(), key)


@holds_blp.route("/<key:key>/release")
class HoldRelease(MethodView):
    @require(SCOPE)
    @holds_blp.arguments(ReleaseIn)
    @holds_blp.response(200, HoldOut)
    def post(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        """Release a legal hold; the data falls under retention and erasure again."""
        return retention.release_hold(ctx(), key, body["reason"], actor=principal().id)
