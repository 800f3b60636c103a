"""``/v1/identity-types``: the kinds of identity a subject can be named by (built-in and registered)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.identity_types import IdentityTypeIn, IdentityTypeOut
from consent_service.errors import NotFound
from consent_service.subjects import identity_types

blp = Blueprint("identity_types", __name__, url_prefix="/v1/identity-types", description="Identity types")


@blp.route("")
class IdentityTypes(MethodView):
    @require("registry:read")
    @blp.response(200, IdentityTypeOut(many=True))
    def get(self) -> list[dict[str, object]]:
        """List the identity types, built-in ones first."""
        with ctx().uow(write=False) as uow:
            return identity_types.list_types(uow.session)


@blp.route("/<key:key>")
class IdentityTypeByKey(MethodView):
    @require("registry:write")
    @blp.arguments(IdentityTypeIn)
    @blp.response(200, IdentityTypeOut)
    @blp.alt_response(201, schema=IdentityTypeOut, description="Created")
    def put(self, doc: dict[str, Any], key: str) -> tuple[dict[str, object], int]:
        """Register or change an identity type; the built-in ones cannot be changed (409)."""
        out, created = identity_types.put_type(ctx(), key, **doc)
        return out, 201 if created else 200

    @require("registry:read")
    @blp.response(200, IdentityTypeOut)
    def get(self, key: str) -> dict[str, object]:
        """Show an identity type."""
        with ctx().uow(write=False) as uow:
            if key not in identity_types.known_types(uow.session):
                raise NotFound(f"identity type {key!r} is not known")
            return identity_types.describe(identity_types.rule(uow.session, key))

    @require("registry:write")
    @blp.response(204)
    def delete(self, key: str) -> None:
        """Remove a registered identity type; refused (409) while identities of it exist."""
        if not identity_types.delete_type(ctx(), key):
            raise NotFound(f"identity type {key!r} is not registered")
