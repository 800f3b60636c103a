"""``/v1/retention/preview`` and ``/v1/retention/runs``: what the sweeper would do, and its runs."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint, StrictBool
from consent_service.api.schemas import StrictSchema
from consent_service.retention import runs, sweeper

blp = Blueprint(
    "retention_runs", __name__, url_prefix="/v1/retention", description="Retention sweeper: preview and runs"
)


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
