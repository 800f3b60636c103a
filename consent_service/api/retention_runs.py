"""``/v1/retention/preview`` and ``/v1/retention/runs``: what the sweeper would do, and its runs."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.retention import PreviewQuery, RunIn, RunOut, RunsQuery, SweepReportOut
from consent_service.retention import runs, sweeper

blp = Blueprint(
    "retention_runs", __name__, url_prefix="/v1/retention", description="Retention sweeper: preview and runs"
)


@blp.route("/preview")
class Preview(MethodView):
    @require("dsar:manage")
    @blp.arguments(PreviewQuery, location="query")
    @blp.response(200, SweepReportOut)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """What a sweep would do now, per rule and store (nothing is changed or recorded)."""
        return sweeper.preview(ctx(), query.get("store"))


@blp.route("/runs")
class Runs(MethodView):
    @require("dsar:manage")
    @blp.arguments(RunsQuery, location="query")
    @blp.response(200, RunOut(many=True))
    def get(self, query: dict[str, Any]) -> list[dict[str, Any]]:
        """The latest runs, newest first (reports cut to their totals)."""
        return runs.list_runs(ctx(), limit=query["limit"])

    @require("dsar:manage")
    @blp.arguments(RunIn, required=False)
    @blp.response(202, RunOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Start a run: queued for the worker (or run at once when no queue is wired); 409 while one runs."""
        return runs.start_run(ctx(), dry_run=body["dry_run"], store=body["store"], started_by=principal().id)


@blp.route("/runs/<run_id>")
class RunById(MethodView):
    @require("dsar:manage")
    @blp.response(200, RunOut)
    def get(self, run_id: str) -> dict[str, Any]:
        """One run with its full report and its entry in the tamper-evident ``retention`` log."""
        return runs.get_run(ctx(), run_id)
