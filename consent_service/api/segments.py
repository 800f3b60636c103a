"""``GET /v1/segments/<purpose>``: the subjects the gate allows for a purpose, page by page, and
``GET /v1/suppressions/<purpose>``: hashed e-mail addresses that must not be mailed for it."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, stream_with_context
from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.segments import SegmentOut, SegmentQuery, SuppressionQuery
from consent_service.errors import Forbidden
from consent_service.ledger import segments, suppressions
from consent_service.preferences import unsubscribe
from consent_service.subjects import identity_types

blp = Blueprint("segments", __name__, url_prefix="/v1", description="Segments and suppression lists")

IDENTITY_SCOPE = "vault:decrypt"


@blp.route("/segments/<purpose>")
class Segment(MethodView):
    @require("consent:read")
    @blp.arguments(SegmentQuery, location="query")
    @blp.response(200, SegmentOut)
    def get(self, query: dict[str, Any], purpose: str) -> dict[str, Any]:
        """Subjects the gate allows for the purpose now; pass ``next_cursor`` back as ``cursor``."""
        if query["identity"] is not None:
            if not principal().has(IDENTITY_SCOPE):
                raise Forbidden(f"identity values need the scope {IDENTITY_SCOPE!r}")
            identity_types.cached_rule(ctx(), query["identity"])  # 422 naming the known types
        page = segments.segment_page(
            ctx(), purpose, cursor=query["cursor"], limit=query["limit"], identity=query["identity"]
        )
        if query["unsubscribe_links"]:
            for item in page["items"]:
                item["unsubscribe"] = unsubscribe.link(ctx(), item["subject_id"], purpose)
        return page


@blp.route("/suppressions/<purpose>")
class Suppressions(MethodView):
    @require("consent:read")
    @blp.arguments(SuppressionQuery, location="query")
    @blp.response(200, description="SHA-256 hashes of normalised e-mail addresses (JSON or CSV)")
    def get(self, query: dict[str, Any], purpose: str) -> Response:
        """Hashed e-mail addresses that must not be mailed for the purpose, streamed."""
        hashes = suppressions.suppressed_hashes(ctx(), purpose)  # raises UnknownPurpose before streaming
        if query["format"] == "csv":
            return Response(stream_with_context(_csv(hashes)), mimetype="text/csv")
        return Response(stream_with_context(_json(purpose, hashes)), mimetype="application/json")


def _csv(hashes: Any) -> Any:
    yield "email_sha256\r\n"
    for digest in hashes:
        yield digest + "\r\n"


def _json(purpose: str, hashes: Any) -> Any:
    yield '{"purpose":' + json.dumps(purpose) + ',"hash":"sha256","items":['
    first = True
    for digest in hashes:
        yield ('"' if first else ',"') + digest + '"'
        first = False
    yield "]}"
