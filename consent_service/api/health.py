"""Liveness and readiness: ``GET /health`` (no auth) answers with the database reachable."""

from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import text

from consent_service.api.auth import ctx
from consent_service.api.schemas import HealthOut

blp = Blueprint("health", __name__, description="Service health")


@blp.route("/health")
class Health(MethodView):
    @blp.doc(security=[])
    @blp.response(200, HealthOut)
    def get(self) -> dict[str, str]:
        """Tell whether the service and its database answer."""
        with ctx().uow(write=False) as uow:
            uow.session.execute(text("SELECT 1"))
        return {"status": "ok", "database": "ok"}
