"""``GET /v1/events``: the change feed for CRM and marketing sync, cursor-paginated by seq."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.common import FeedQuery
from consent_service.api.schemas.consents import FeedOut
from consent_service.ledger import queries

blp = Blueprint("events", __name__, url_prefix="/v1/events", description="Change feed")


@blp.route("")
class Events(MethodView):
    @require("consent:read")
    @blp.arguments(FeedQuery, location="query")
    @blp.response(200, FeedOut)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Events after a sequence number; pass ``next_after`` back as ``after``."""
        return queries.change_feed(ctx(), query["after"], query["limit"])
