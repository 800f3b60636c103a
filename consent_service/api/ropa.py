"""``/v1/ropa``: the records of processing activities (GDPR Art. 30(1)) as JSON or CSV."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from werkzeug.wrappers import Response as WerkzeugResponse

from consent_service.api.auth import ctx, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.ropa import RopaOut, RopaQuery
from consent_service.retention import ropa

blp = Blueprint("ropa", __name__, url_prefix="/v1/ropa", description="Records of processing (Art. 30)")


CSV_DOC = {
    "responses": {
        "200": {
            "description": "JSON, or with format=csv a text/csv attachment (ropa.csv)",
            "content": {
                "application/json": {"schema": RopaOut},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    }
}


@blp.route("")
class Ropa(MethodView):
    @require("dsar:manage")
    @blp.arguments(RopaQuery, location="query")
    @blp.response(200, RopaOut)
    @blp.doc(**CSV_DOC)
    def get(self, query: dict[str, Any]) -> dict[str, Any] | WerkzeugResponse:
        """The records of processing activities (Art. 30(1)), one record per purpose."""
        doc = ropa.build(ctx())
        if query["format"] == "csv":
            return Response(
                ropa.to_csv(doc),
                mimetype="text/csv",
                headers={"Content-Disposition": 'attachment; filename="ropa.csv"'},
            )
        return doc
