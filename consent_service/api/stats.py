"""``GET /v1/stats/consents`` and ``GET /v1/stats/requests``: statistics for BI tools, as JSON or
CSV, with the minimum-subjects rule unless the client has ``stats:unsuppressed``."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.stats import (
    ConsentStatsOut,
    ConsentStatsQuery,
    RangeQuery,
    RequestStatsOut,
)
from consent_service.dsar import stats as request_stats
from consent_service.ledger import stats

blp = Blueprint("stats", __name__, url_prefix="/v1/stats", description="Statistics")

UNSUPPRESSED_SCOPE = "stats:unsuppressed"


def csv_doc(schema: str, description: str) -> dict[str, Any]:
    """The 200 response as JSON (``schema``) or CSV, for the OpenAPI document."""
    return {
        "responses": {
            "200": {
                "description": description,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
    }


@blp.route("/consents")
class ConsentStats(MethodView):
    @require("stats:read")
    @blp.arguments(ConsentStatsQuery, location="query")
    @blp.response(200, ConsentStatsOut)
    @blp.doc(**csv_doc("ConsentStatsOut", "JSON, or CSV (one row per bucket) with format=csv"))
    def get(self, query: dict[str, Any]) -> Any:
        """Grants, denials, withdrawals, opt-in rate and method shares per day, week or month."""
        answer = stats.consent_stats(
            ctx(),
            purpose=query["purpose"],
            site=query["site"],
            start=query["start"],
            end=query["end"],
            interval=query["interval"],
            unsuppressed=principal().has(UNSUPPRESSED_SCOPE),
        )
        if query["format"] != "csv":
            return answer
        return Response(stats.consent_csv(answer), mimetype="text/csv")


@blp.route("/requests")
class RequestStats(MethodView):
    @require("stats:read")
    @blp.arguments(RangeQuery, location="query")
    @blp.response(200, RequestStatsOut)
    @blp.doc(**csv_doc("RequestStatsOut", "JSON, or CSV (one row per request type) with format=csv"))
    def get(self, query: dict[str, Any]) -> Any:
        """Requests received per type, time to completion, share within the deadline, overdue now."""
        answer = request_stats.request_stats(
            ctx(), start=query["start"], end=query["end"], unsuppressed=principal().has(UNSUPPRESSED_SCOPE)
        )
        if query["format"] != "csv":
            return answer
        return Response(request_stats.request_csv(answer), mimetype="text/csv")
