"""``/v1/public``: endpoints a cookie banner calls from the browser with its public site key.

CORS is answered only for origins a registered site allows; consents are rate limited per client
IP (``CONSENT_PUBLIC_RATE_LIMIT`` a minute, counted in ``CONSENT_RATELIMIT_STORAGE_URL``: per
process in memory, or shared by every process through Redis; see ``api.throttle``).
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Response, json, request
from flask.views import MethodView

from consent_service.api import throttle
from consent_service.api.auth import ctx
from consent_service.api.boundary import Blueprint
from consent_service.api.consents import decision_inputs, event_out
from consent_service.api.problems import problem
from consent_service.api.schemas.public import (
    BannerConfigOut,
    BannerConfigQuery,
    PublicConsentIn,
    PublicConsentOut,
)
from consent_service.errors import NotFound, RateLimited
from consent_service.ledger import banner, gpc
from consent_service.registry import service as registry
from consent_service.subjects.service import IdentityRef

blp = Blueprint("public", __name__, url_prefix="/v1/public", description="Cookie banner endpoints")

ALLOWED_HEADERS = "Content-Type, X-Site-Key"
# Browsers and CDNs keep a banner's configuration but ask each time whether it is still current
# (a 304 to the ETag costs no body): a withdrawal link, a new purpose version or a changed
# setting reaches the next page at once, which consent law needs more than a saved round trip.
CONFIG_CACHE = "public, no-cache"
CONFIG_HEADERS = {
    "ETag": {
        "description": "a hash of the answer; send it back in If-None-Match",
        "schema": {"type": "string"},
    },
    "Cache-Control": {"description": CONFIG_CACHE, "schema": {"type": "string"}},
}


def _cors(response: Response, origin: str) -> Response:
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Vary"] = "Origin"
    return response


def _preflight() -> Response:
    origin = request.headers.get("Origin", "")
    if not origin or not banner.any_site_allows(ctx(), origin):
        return problem(403, "Forbidden", "this origin is not allowed by any registered site")
    response = Response(status=204)
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
    response.headers["Access-Control-Max-Age"] = "600"
    return _cors(response, origin)


@blp.route("/consents")
class PublicConsents(MethodView):
    @blp.doc(security=[{"siteKey": []}])
    @blp.arguments(PublicConsentIn)
    @blp.response(201, PublicConsentOut)
    def post(self, body: dict[str, Any]) -> Any:
        """Record a banner's decisions for a device id (site key in ``X-Site-Key``)."""
        wait = throttle.limiter().hit("public-consents", ctx().config.public_rate_limit, throttle.client_ip())
        if wait is not None:
            raise RateLimited("too many consent requests from this address", retry_after=wait)
        site = banner.load_site(ctx(), request.headers.get("X-Site-Key"))
        origin = request.headers.get("Origin")
        proof = {
            "ip": request.remote_addr,
            "user_agent": request.headers.get("User-Agent", "")[:1000],
            "url": body.get("url") or request.headers.get("Referer", "")[:2000],
        }
        for name in ("tc_string", "gpp_string"):
            if body.get(name):
                proof[name] = body[name]
        result = banner.record_banner_consent(
            ctx(),
            site=site,
            origin=origin,
            device_id=IdentityRef(body["subject"]["type"], body["subject"]["value"]),
            decisions=decision_inputs(body["decisions"]),
            method=body["method"],
            gpc=gpc.signal_in(request.headers.getlist(gpc.HEADER)),
            proof={k: v for k, v in proof.items() if v},
            language=body.get("language"),
            jurisdiction=body.get("jurisdiction"),
            collection_point=body.get("collection_point"),
        )
        return {
            "subject_id": result.subject_id,
            "subject_created": result.subject_created,
            "events": [event_out(r) for r in result.events],
            "receipt": result.receipt,
            "gpc_denied": banner.gpc_denials(result.events),
        }

    @blp.doc(security=[])
    @blp.response(204)
    def options(self) -> Response:
        """CORS preflight for banners on allowed origins."""
        return _preflight()


@blp.route("/sites/<site_key>")
class BannerConfig(MethodView):
    @blp.doc(security=[])
    @blp.arguments(BannerConfigQuery, location="query")
    @blp.response(200, BannerConfigOut, headers=CONFIG_HEADERS)
    @blp.alt_response(
        304, description="Not modified: the If-None-Match ETag is the answer's", headers=CONFIG_HEADERS
    )
    def get(self, query: dict[str, Any], site_key: str) -> Response:
        """What the site's banner offers in a language: texts, purposes, cookies and settings."""
        config = registry.banner_config(ctx(), site_key, query["lang"])
        if config is None:
            raise NotFound("unknown site key")
        body = json.dumps(BannerConfigOut().dump(config))
        etag = hashlib.sha256(body.encode("utf-8")).hexdigest()[:32]
        if request.if_none_match.contains_weak(etag):
            response = Response(status=304)
        else:
            response = Response(body, status=200, mimetype="application/json")
        response.set_etag(etag)
        response.headers["Cache-Control"] = CONFIG_CACHE
        response.vary.add("Origin")  # a shared cache must not hand one origin's CORS answer to another
        return response


@blp.after_request
def add_cors(response: Response) -> Response:
    origin = request.headers.get("Origin")
    if origin and request.method != "OPTIONS" and banner.any_site_allows(ctx(), origin):
        _cors(response, origin)
    return response
