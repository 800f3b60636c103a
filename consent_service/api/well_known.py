"""``/.well-known/gpc.json``: the GPC support resource (W3C GPC § 4, RFC 8615), no auth.

It states that the service abides by Global Privacy Control requests, as of
``CONSENT_GPC_LAST_UPDATE``. A browser or crawler reads it from a site's own origin: docs/gpc.md
says how a site serves this answer on its own domain. Readable from any origin (CORS ``*``): it
is the same public statement for everyone and carries no credentials.
"""

from __future__ import annotations

from flask import Response
from flask.views import MethodView

from consent_service.api.auth import ctx
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.well_known import GpcSupportOut
from consent_service.ledger import gpc

blp = Blueprint("well_known", __name__, description="Well-known resources")


@blp.route(gpc.WELL_KNOWN_PATH)
class GpcSupport(MethodView):
    @blp.doc(security=[])
    @blp.response(200, GpcSupportOut)
    def get(self) -> dict[str, object]:
        """State that the service abides by Global Privacy Control, and since when."""
        return gpc.support_resource(ctx().config.gpc_last_update)


@blp.after_request
def readable_from_any_origin(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.setdefault("Cache-Control", "public, max-age=86400")
    return response
