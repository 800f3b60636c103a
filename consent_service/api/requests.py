"""``/v1/requests``: data subject requests — open, verify, extend, reject, lift, list, show."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from consent_service.api.auth import ctx, principal, require
from consent_service.api.schemas import (
    ExtendIn,
    ReasonIn,
    RequestDetailOut,
    RequestIn,
    RequestListQuery,
    RequestOut,
    VerifyRequestIn,
)
from consent_service.dsar import requests as dsar
from consent_service.errors import InvalidInput
from consent_service.registry.durations import DurationError, parse_duration
from consent_service.subjects.service import IdentityRef

blp = Blueprint("requests", __name__, url_prefix="/v1/requests", description="Data subject requests")


@blp.route("")
class Requests(MethodView):
    @require("dsar:manage")
    @blp.arguments(RequestIn)
    @blp.response(201, RequestOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Open a request; e-mail verification sends a code, a DPO note verifies at once."""
        command = dsar.OpenRequest(
            type=body["type"],
            identities=[IdentityRef(i["type"], i["value"]) for i in body["identities"]],
            verification=body["verification"],
            purposes=body["purposes"],
            changes=body["changes"],
        )
        return dsar.open_request(ctx(), command, actor=principal().id)

    @require("dsar:manage")
    @blp.arguments(RequestListQuery, location="query")
    @blp.response(200, RequestOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """List requests, soonest due first (filters: state, type, overdue, due_within)."""
        if query.get("due_within"):
            try:
                parse_duration(query["due_within"])
            except DurationError as exc:
                raise InvalidInput("bad duration", errors={"due_within": [str(exc)]}) from exc
        return dsar.list_requests(ctx(), **query)


@blp.route("/<request_id>")
class RequestById(MethodView):
    @require("dsar:manage")
    @blp.response(200, RequestDetailOut)
    def get(self, request_id: str) -> dict[str, Any]:
        """Show a request with the requester's identities and its audit trail."""
        return dsar.show(ctx(), request_id)


@blp.route("/<request_id>/verify")
class Verify(MethodView):
    @require("dsar:manage")
    @blp.arguments(VerifyRequestIn)
    @blp.response(200, RequestOut)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Verify the requester with the e-mailed code, or as DPO with a note."""
        return dsar.verify(
            ctx(), request_id, code=body.get("code"), dpo_note=body.get("note"), actor=principal().id
        )


@blp.route("/<request_id>/extend")
class Extend(MethodView):
    @require("dsar:manage")
    @blp.arguments(ExtendIn)
    @blp.response(200, RequestOut)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Extend the deadline by 1 or 2 months (at most 2 in all), before it passes."""
        return dsar.extend(
            ctx(), request_id, months=body["months"], reason=body["reason"], actor=principal().id
        )


@blp.route("/<request_id>/reject")
class Reject(MethodView):
    @require("dsar:manage")
    @blp.arguments(ReasonIn)
    @blp.response(200, RequestOut)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Reject a request, with the reason the requester will be given."""
        return dsar.reject(ctx(), request_id, reason=body["reason"], actor=principal().id)


@blp.route("/<request_id>/lift")
class Lift(MethodView):
    @require("dsar:manage")
    @blp.arguments(ReasonIn)
    @blp.response(200, RequestOut)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Lift a restriction (or an objection that is not to direct marketing), with a reason."""
        return dsar.lift(ctx(), request_id, reason=body["reason"], actor=principal().id)
