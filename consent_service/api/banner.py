"""The embeddable cookie banner (``/v1/public/banner.js``) and a demo shop page (``/demo``).

The banner's JavaScript and the demo HTML live in ``api/static`` (package data). Neither needs
a token: the banner speaks to the ``/v1/public`` endpoints with its site's public key. The demo
page's own stand-ins for third-party content, which the banner blocks until consent (an
analytics script, ``/demo/analytics.js``, and an advertising partner's frame,
``/demo/partner.html``), are assets of the demo like the API docs' files, not API operations.
"""

from __future__ import annotations

from flask import Blueprint as FlaskBlueprint
from flask import Response, request
from flask.views import MethodView
from markupsafe import escape
from werkzeug.wrappers import Response as WerkzeugResponse

from consent_service.api import static
from consent_service.api.auth import ctx
from consent_service.api.boundary import Blueprint
from consent_service.errors import NotFound
from consent_service.registry import banner_texts
from consent_service.registry import service as registry

blp = Blueprint("banner", __name__, description="Embeddable cookie banner and demo page")

STATIC = static.STATIC
DEMO_SITE_NAME = "Demo shop"
# The page says lang="…"; the banner follows when the site offers it.
DEMO_LANGUAGES = banner_texts.languages()
BANNER_MAX_AGE = 300  # seconds; short, so a fixed banner reaches sites quickly
DEMO_ASSET_MAX_AGE = 300

demo_assets = FlaskBlueprint("demo_assets", __name__)


@demo_assets.get("/demo/analytics.js")
def demo_analytics() -> WerkzeugResponse:
    return static.script("demo-analytics.js", max_age=DEMO_ASSET_MAX_AGE)


@demo_assets.get("/demo/partner.html")
def demo_partner() -> WerkzeugResponse:
    return static.script("demo-partner.html", max_age=DEMO_ASSET_MAX_AGE, mimetype="text/html")


def demo_site_key(origin: str) -> str:
    """The key of the demo site allowing ``origin``, else of the first demo site."""
    with ctx().uow(write=False) as uow:
        sites = [s for s in registry.list_sites(uow.session) if s.name == DEMO_SITE_NAME]
        chosen = next((s for s in sites if origin in s.allowed_origins), sites[0] if sites else None)
        key = chosen.site_key if chosen else None
    if key is None:
        raise NotFound(f"no site named {DEMO_SITE_NAME!r} is registered; run `consent-service demo` first")
    return key


@blp.route("/v1/public/banner.js")
class BannerScript(MethodView):
    @blp.doc(security=[])
    @blp.response(200, content_type="application/javascript", description="The banner script")
    def get(self) -> WerkzeugResponse:
        """The cookie banner script a website embeds with its site key."""
        return static.script("banner.js", max_age=BANNER_MAX_AGE)


@blp.route("/demo")
class DemoPage(MethodView):
    @blp.doc(security=[])
    @blp.response(200, content_type="text/html", description="The demo shop page")
    def get(self) -> WerkzeugResponse:
        """A demo shop page embedding the banner with the demo site's key."""
        site_key = demo_site_key(request.host_url.rstrip("/"))
        lang = request.args.get("lang", "en")
        if lang not in DEMO_LANGUAGES:
            lang = "en"
        html = (
            (STATIC / "demo.html")
            .read_text(encoding="utf-8")
            .replace("{{SITE_KEY}}", str(escape(site_key)))
            .replace("{{LANG}}", lang)
        )
        response = Response(html, mimetype="text/html")
        response.cache_control.no_cache = True
        return response
