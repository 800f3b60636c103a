"""``/v1/requests``: data subject requests — open, verify, extend, reject, lift, list, show;
run (``retry``) across the stores, and read the access package and the per-store reports.

``POST /<id>/retry`` executes the request synchronously inside the HTTP request: a worker or
task queue for long runs is not built yet.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from werkzeug.wrappers import Response as WerkzeugResponse

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
from consent_service.dsar import execution, package
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


class PackageQuery(Schema):
    format = fields.Str(load_default="json", validate=validate.OneOf(package.FORMATS))
    collection = fields.Str(load_default=None, metadata={"description": "csv only: one store.collection"})


class RunOut(Schema):
    request = fields.Nested(RequestOut)
    stores = fields.Dict(keys=fields.Str(), values=fields.Dict())
    pending = fields.List(fields.Str())


class ReportOut(Schema):
    store = fields.Str()
    created_at = fields.DateTime()
    report = fields.Dict()


@blp.route("/<request_id>/retry")
class Retry(MethodView):
    @require("dsar:manage")
    @blp.response(200, RunOut)
    def post(self, request_id: str) -> dict[str, Any]:
        """Run (or resume) a verified access, portability, erasure or rectification request."""
        return execution.run_request(ctx(), request_id, actor=principal().id)


@blp.route("/<request_id>/package")
class Package(MethodView):
    @require("dsar:manage")
    @blp.arguments(PackageQuery, location="query")
    @blp.response(200, content_type="application/json", description="json, csv (JSON or text/csv) or html")
    def get(self, query: dict[str, Any], request_id: str) -> WerkzeugResponse:
        """Download the access or portability package (404 before it exists, 410 once expired or erased)."""
        fmt, collection = query["format"], query.get("collection")
        content = package.read(ctx(), request_id, fmt, collection)
        if fmt == "html":
            return Response(content, mimetype="text/html")
        if fmt == "csv" and collection is not None:
            return Response(content, mimetype="text/csv")
        return Response(json.dumps(content), mimetype="application/json")


@blp.route("/<request_id>/report")
class Report(MethodView):
    @require("dsar:manage")
    @blp.response(200, ReportOut(many=True))
    def get(self, request_id: str) -> list[dict[str, Any]]:
        """The per-store reports: proof of erasure, rectification counts, pending tasks."""
        return execution.reports(ctx(), request_id)
