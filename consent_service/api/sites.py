"""``/v1/sites``: the websites whose banners record consent, their offer and banner settings.

Every write goes through ``registry.sites`` (as the console's site form and ``consent-service
sites`` do) and lands in the registry audit log with the API client that made it.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from consent_service.api.auth import ctx, principal, require
from consent_service.api.boundary import Blueprint
from consent_service.api.schemas.sites import BannerSettings, SiteIn, SiteOut
from consent_service.auditlog import service as auditlog
from consent_service.registry import sites
from consent_service.registry.sites import REGISTRY_LOG, Recorder

blp = Blueprint("sites", __name__, url_prefix="/v1/sites", description="Sites and their banner settings")


def _recorder() -> Recorder:
    return auditlog.recorder(ctx(), REGISTRY_LOG, principal().id)


@blp.route("")
class Sites(MethodView):
    @require("registry:read")
    @blp.response(200, SiteOut(many=True))
    def get(self) -> list[dict[str, Any]]:
        """List every site with its offer and banner settings."""
        return sites.read_sites(ctx())

    @require("registry:write")
    @blp.arguments(SiteIn)
    @blp.response(201, SiteOut)
    def post(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Register a site; the answer has its new public site key."""
        return sites.register_site(ctx(), **spec, record=_recorder())


@blp.route("/<site_id>")
class SiteById(MethodView):
    @require("registry:read")
    @blp.response(200, SiteOut)
    def get(self, site_id: str) -> dict[str, Any]:
        """Show a site with its whole banner settings document."""
        return sites.read_site(ctx(), site_id)

    @require("registry:write")
    @blp.arguments(SiteIn)
    @blp.response(200, SiteOut)
    def put(self, spec: dict[str, Any], site_id: str) -> dict[str, Any]:
        """Replace a site's name, origins and offer (and its banner settings, when given)."""
        return sites.change_site_offer(ctx(), site_id, **spec, record=_recorder())

    @require("registry:write")
    @blp.response(204)
    def delete(self, site_id: str) -> None:
        """Remove a site: its site key stops working; the consent recorded through it stays."""
        sites.remove_site(ctx(), site_id, record=_recorder())


@blp.route("/<site_id>/banner")
class SiteBanner(MethodView):
    @require("registry:write")
    @blp.arguments(BannerSettings)
    @blp.response(200, SiteOut)
    def put(self, banner: dict[str, Any], site_id: str) -> dict[str, Any]:
        """Replace only a site's banner settings; what the document leaves out takes its default."""
        return sites.set_site_banner(ctx(), site_id, banner, record=_recorder())
