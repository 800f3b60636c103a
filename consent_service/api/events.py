"""``GET /v1/events``: the change feed for CRM and marketing sync, cursor-paginated by seq,
filtered by purpose or subject; each event names its subject's identity types."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.common import EventFeedQuery
from consent_service.api.schemas.consents import FeedOut
from consent_service.ledger import feed

blp = Blueprint("events", __name__, url_prefix="/v1/events", description="Change feed")


@blp.route("")
class Events(MethodView):
    @require("consent:read")
    @blp.arguments(EventFeedQuery, location="query")
    @blp.response(200, FeedOut)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Events after a sequence number (filtered); pass ``next_after`` back as ``after``."""
        return feed.change_feed(
            ctx(),
            query["after"],
            query["limit"],
            purposes=feed.split_keys(query["purpose"]),
            subject_id=query["subject_id"],
        )
