"""``/v1/retention/rules`` and ``/v1/holds``: how long data is kept, and what must be kept anyway.

Rules are applied by the retention sweeper, not here; these endpoints only define them. The
registry and store checks live in ``consent_service.retention``; problems found there come back
as 422 with ``errors`` keyed by dotted paths (``applies_to.purpose``, ``trigger.field``).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.retention import (
    HoldIn,
    HoldListQuery,
    HoldOut,
    ReleaseIn,
    RuleIn,
    RuleListQuery,
    RuleOut,
)
from consent_service.retention import service as retention

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


# Rules ----------------------------------------------------------------------------------------


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
