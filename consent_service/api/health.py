"""Liveness and readiness: ``GET /health`` (no auth) answers with the database reachable."""

from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import text

from consent_service.api.auth import ctx
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.health import HealthOut

_PING = text("SELECT 1")

blp = Blueprint("health", __name__, description="Service health")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthOut)
    def get(self) -> dict[str, str]:
        """Tell whether the service and its database answer."""
        ctx().db.fetch_one(_PING)
        return {"status": "ok", "database": "ok"}
