"""``/v1/stores``: the data stores data subject requests run across (connections never shown)."""

from __future__ import annotations

from typing import Any

from flask import request as http_request
from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.stores import CallbackOut, StoreIn, StoreOut, StoreTestOut
from consent_service.dsar import tasks
from consent_service.stores import registry as stores
from consent_service.stores.connectors.http import SIGNATURE_HEADER, TIMESTAMP_HEADER

blp = Blueprint("stores", __name__, url_prefix="/v1/stores", description="Data stores for subject requests")


@blp.route("")
class Stores(MethodView):
    @require("dsar:manage")
    @blp.response(200, StoreOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List the registered data stores."""
        return stores.read_stores(ctx())


@blp.route("/<key:key>")
class StoreByKey(MethodView):
    @require("dsar:manage")
    @blp.arguments(StoreIn)
    @blp.response(200, StoreOut)
    @blp.alt_response(201, schema=StoreOut, description="Created")
    def put(self, doc: dict[str, Any], key: str) -> tuple[dict[str, Any], int]:
        """Register or replace a data store; ``***`` in the connection keeps the stored secret."""
        out, created = stores.save_store(ctx(), key, doc)
        return out, 201 if created else 200

    @require("dsar:manage")
    @blp.response(200, StoreOut)
    def get(self, key: str) -> dict[str, Any]:
        """Show a data store without its secrets."""
        return stores.read_store(ctx(), key)


@blp.route("/<key:key>/test")
class StoreTest(MethodView):
    @require("dsar:manage")
    @blp.response(200, StoreTestOut)
    def post(self, key: str) -> dict[str, Any]:
        """Connect to a store and check its collections, fields and key patterns (kept as its last test)."""
        return stores.run_check(ctx(), key, actor=principal().id)


@blp.route("/<key:key>/callback")
class StoreCallback(MethodView):
    @blp.doc(
        security=[],  # an HMAC-SHA-256 signature with the store's secret, not a bearer token
        parameters=[
            {
                "in": "header",
                "name": TIMESTAMP_HEADER,
                "required": True,
                "schema": {"type": "string"},
                "description": "Unix time of the call; calls older than five minutes are refused",
            },
            {
                "in": "header",
                "name": SIGNATURE_HEADER,
                "required": True,
                "schema": {"type": "string"},
                "description": "`sha256=` and the hex HMAC-SHA-256 of `timestamp.body` under the store's secret",
            },
        ],
    )
    @blp.response(200, CallbackOut)
    def post(self, key: str) -> dict[str, Any]:
        """An HTTP store reports a job it accepted as done or failed (signed with its secret, no token)."""
        result = tasks.store_callback(
            ctx(),
            key,
            timestamp=http_request.headers.get(TIMESTAMP_HEADER, ""),
            signature=http_request.headers.get(SIGNATURE_HEADER, ""),
            body=http_request.get_data(),
        )
        return {"id": result["id"], "type": result["type"], "state": result["state"]}
