"""``/v1/purposes``: the purposes a company processes personal data for."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.common import KEY
from consent_service.api.schemas.purposes import PurposeIn, PurposeOut
from consent_service.auditlog import service as auditlog
from consent_service.errors import InvalidInput
from consent_service.registry import service as registry
from consent_service.registry.service import REGISTRY_LOG

blp = Blueprint("purposes", __name__, url_prefix="/v1/purposes", description="Purposes of processing")


def _check_key(key: str) -> None:
    try:
        KEY(key)
    except Exception as exc:  # marshmallow's ValidationError
        raise InvalidInput("bad purpose key", errors={"key": [str(exc)]}) from exc


@blp.route("")
class Purposes(MethodView):
    @require("registry:read")
    @blp.response(200, PurposeOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List every purpose with its current version."""
        return registry.read_purposes(ctx())


@blp.route("/<key:key>")
class PurposeByKey(MethodView):
    @require("registry:write")
    @blp.arguments(PurposeIn)
    @blp.response(200, PurposeOut)
    @blp.alt_response(201, schema=PurposeOut, description="Created")
    def put(self, spec: dict[str, Any], key: str) -> tuple[dict[str, Any], int]:
        """Create or update a purpose; a material change makes a new version."""
        _check_key(key)
        record = auditlog.recorder(ctx(), REGISTRY_LOG, principal().id)
        out, created = registry.save_purpose(ctx(), key, spec, record=record)
        return out, 201 if created else 200

    @require("registry:read")
    @blp.response(200, PurposeOut)
    def get(self, key: str) -> dict[str, Any]:
        """Show a purpose with all its versions."""
        return registry.read_purpose(ctx(), key)
