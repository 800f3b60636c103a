"""``/v1/requests``: data subject requests — open, verify (and send new codes), extend, reject, lift, list, show;
run (``retry``) across the stores, and read the access package and the per-store reports.

``POST /<id>/retry`` queues a run on the task queue (``consent_service.jobs``) and answers 202
with the request as it is now; verifying an access, portability, erasure or rectification
request queues its run too (not with ``CONSENT_TESTING=1``, where tests wire the queue themselves).
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, url_for
from flask.views import MethodView
from werkzeug.wrappers import Response as WerkzeugResponse

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.requests import (
    CompleteTaskIn,
    CompleteTaskOut,
    ExtendIn,
    PackageLinkOut,
    PackageQuery,
    ReasonIn,
    RejectIn,
    ReportOut,
    RequestDetailOut,
    RequestIn,
    RequestListQuery,
    RequestOut,
    TaskOut,
    VerifyRequestIn,
)
from consent_service.dsar import (
    extension,
    lifting,
    package,
    package_links,
    refusal,
    request_views,
    retries,
    tasks,
)
from consent_service.dsar import requests as dsar
from consent_service.durations import DurationError, parse_duration
from consent_service.errors import InvalidInput
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
            received_at=body.get("received_at"),
            language=body.get("language"),
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
        return request_views.list_requests(ctx(), **query)


@blp.route("/<request_id>")
class RequestById(MethodView):
    @require("dsar:manage")
    @blp.response(200, RequestDetailOut)
    def get(self, request_id: str) -> dict[str, Any]:
        """Show a request with the requester's identities and its audit trail."""
        return request_views.show(ctx(), request_id)


@blp.route("/<request_id>/verify")
class Verify(MethodView):
    @require("dsar:manage")
    @blp.arguments(VerifyRequestIn)
    @blp.response(200, RequestOut)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Verify the e-mail address(es) a code was sent to, or identities as DPO with a note."""
        return dsar.verify(
            ctx(),
            request_id,
            code=body.get("code"),
            dpo_note=body.get("note"),
            identities=body.get("identities"),
            actor=principal().id,
        )


@blp.route("/<request_id>/code")
class NewCode(MethodView):
    @require("dsar:manage")
    @blp.response(200, RequestOut)
    def post(self, request_id: str) -> dict[str, Any]:
        """Send new codes to a request's e-mail addresses; the earlier codes stop working."""
        return dsar.resend_code(ctx(), request_id, actor=principal().id)


@blp.route("/<request_id>/extend")
class Extend(MethodView):
    @require("dsar:manage")
    @blp.arguments(ExtendIn)
    @blp.response(200, RequestOut)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Extend the deadline by 1 or 2 months (at most 2 in all), before it passes."""
        return extension.extend(
            ctx(), request_id, months=body["months"], reason=body["reason"], actor=principal().id
        )


@blp.route("/<request_id>/reject")
class Reject(MethodView):
    @require("dsar:manage")
    @blp.arguments(RejectIn)
    @blp.response(200, RequestOut)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Refuse a request on a ground, with the reasons the requester is told (Art. 12(4))."""
        return refusal.reject(
            ctx(), request_id, ground=body["ground"], reason=body.get("reason"), actor=principal().id
        )


@blp.route("/<request_id>/lift")
class Lift(MethodView):
    @require("dsar:manage")
    @blp.arguments(ReasonIn)
    @blp.response(200, RequestOut)
    def post(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Lift a restriction (or an objection that is not to direct marketing), with a reason."""
        return lifting.lift(ctx(), request_id, reason=body["reason"], actor=principal().id)


@blp.route("/<request_id>/retry")
class Retry(MethodView):
    @require("dsar:manage")
    @blp.response(202, RequestOut)
    def post(self, request_id: str) -> dict[str, Any]:
        """Queue a run (or resume) of a verified access, portability, erasure or rectification request.

        A failed request answers ``in_progress``: it is queued for a new run. 409 when there is
        nothing to run (closed, unverified, or its subject was shredded: reject it instead)."""
        return retries.queue_retry(ctx(), request_id, actor=principal().id)


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
        return request_views.reports(ctx(), request_id)


@blp.route("/<request_id>/tasks")
class Tasks(MethodView):
    @require("dsar:manage")
    @blp.response(200, TaskOut(many=True))
    def get(self, request_id: str) -> list[dict[str, Any]]:
        """The manual tasks of a request (open and done)."""
        return tasks.list_tasks(ctx(), request_id)


@blp.route("/<request_id>/tasks/<task_id>/complete")
class CompleteTask(MethodView):
    @require("dsar:manage")
    @blp.arguments(CompleteTaskIn)
    @blp.response(200, CompleteTaskOut)
    def post(self, body: dict[str, Any], request_id: str, task_id: str) -> dict[str, Any]:
        """Close a manual task with a note; the request completes when nothing else is pending."""
        return tasks.complete_task(ctx(), request_id, task_id, note=body["note"], actor=principal().id)


@blp.route("/<request_id>/package/link")
class PackageLink(MethodView):
    @require("dsar:manage")
    @blp.response(200, PackageLinkOut)
    def post(self, request_id: str) -> dict[str, Any]:
        """A download link for the package (signed, expiring; no token needed to fetch it)."""
        link = package_links.make_link(ctx(), request_id, actor=principal().id)
        url = url_for("packages.PackageByToken", token=link["token"], _external=True)
        return {"url": url, "expires_at": link["expires_at"]}


packages_blp = Blueprint(
    "packages", __name__, url_prefix="/v1/packages", description="Access packages by signed link"
)


@packages_blp.route("/<token>")
class PackageByToken(MethodView):
    @packages_blp.doc(
        security=[],  # the signed, expiring token in the path is the credential
        responses={
            "200": {"content": {"application/json": {}, "text/csv": {}, "text/html": {}}},
        },
    )
    @packages_blp.arguments(PackageQuery, location="query")
    @packages_blp.response(
        200, content_type="application/json", description="json, csv (JSON or text/csv) or html"
    )
    def get(self, query: dict[str, Any], token: str) -> WerkzeugResponse:
        """Download a package by its signed link (401 tampered, 410 expired or erased)."""
        context = ctx()
        request_id = package_links.open_link(context, token)
        fmt, collection = query["format"], query.get("collection")
        content = package.read(context, request_id, fmt, collection)
        if fmt == "html":
            return Response(content, mimetype="text/html")
        if fmt == "csv" and collection is not None:
            return Response(content, mimetype="text/csv")
        return Response(json.dumps(content), mimetype="application/json")
