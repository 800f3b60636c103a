"""``/v1/cookies``: cookies and the purpose each serves."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.cookies import CookieIn, CookieOut
from consent_service.auditlog import service as auditlog
from consent_service.registry import service as registry
from consent_service.registry.service import REGISTRY_LOG

blp = Blueprint("cookies", __name__, url_prefix="/v1/cookies", description="Cookies")


@blp.route("")
class Cookies(MethodView):
    @require("registry:read")
    @blp.response(200, CookieOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List every cookie."""
        return registry.read_cookies(ctx())


@blp.route("/<cookie:name>")
class CookieByName(MethodView):
    @require("registry:write")
    @blp.arguments(CookieIn)
    @blp.response(200, CookieOut)
    @blp.alt_response(201, schema=CookieOut, description="Created")
    def put(self, spec: dict[str, Any], name: str) -> tuple[dict[str, Any], int]:
        """Create or update a cookie."""
        record = auditlog.recorder(ctx(), REGISTRY_LOG, principal().id)
        out, created = registry.save_cookie(ctx(), name, spec, record=record)
        return out, 201 if created else 200
