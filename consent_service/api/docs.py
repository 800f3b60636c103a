"""The interactive API docs (``/docs``): Swagger UI served by the service itself, so it works offline.

Swagger UI's files come from the ``swagger-ui-bundle`` package (pinned in setup.cfg) and are served
under ``/docs/static/swagger-ui-<version>/``; the version in the path changes with the package, so
those files are cached for a year. The page is ``static/docs.html`` and starts Swagger UI with
``static/docs.js`` (served at ``/docs/docs.js``; ``docs.css`` darkens Swagger UI's colours to
WCAG AA contrast and the script names operation buttons by their visible text): no inline script, and the page's
Content-Security-Policy allows scripts, styles and requests to this service only, plus the origin
of ``OPENAPI_SWAGGER_UI_URL`` when that setting points Swagger UI's files at another server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Response, abort, send_from_directory
from markupsafe import escape
from swagger_ui_bundle import swagger_ui_path
from werkzeug.wrappers import Response as WerkzeugResponse

from consent_service.api import static

SWAGGER_UI = Path(str(swagger_ui_path))
SWAGGER_UI_URL = f"/docs/static/{SWAGGER_UI.name}/"
SWAGGER_UI_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")
ASSET_MAX_AGE = 365 * 24 * 3600  # versioned paths never change
SCRIPT_MAX_AGE = 300  # docs.js has a fixed name: short, with an ETag

assets = Blueprint("docs_assets", __name__)


@assets.get(f"{SWAGGER_UI_URL}<name>")
def swagger_ui_file(name: str) -> WerkzeugResponse:
    if name not in SWAGGER_UI_FILES:
        abort(404)
    response = send_from_directory(SWAGGER_UI, name, max_age=ASSET_MAX_AGE, conditional=True)
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@assets.get("/docs/docs.js")
def docs_script() -> WerkzeugResponse:
    return static.script("docs.js", max_age=SCRIPT_MAX_AGE)


@assets.get("/docs/docs.css")
def docs_style() -> WerkzeugResponse:
    return static.script("docs.css", max_age=SCRIPT_MAX_AGE, mimetype="text/css")


def content_security_policy(ui_url: str) -> str:
    """Only this service, and the origin of ``ui_url`` when Swagger UI's files come from elsewhere."""
    parts = urlsplit(ui_url)
    sources = "'self'" + (f" {parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "")
    return (
        f"default-src 'none'; script-src {sources}; style-src {sources}; img-src {sources} data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def page(*, title: str, spec_url: str, ui_url: str, config: dict[str, Any]) -> WerkzeugResponse:
    """The ``/docs`` page: Swagger UI from ``ui_url`` showing the document at ``spec_url``."""
    values = {"TITLE": title, "SPEC_URL": spec_url, "UI_URL": ui_url, "CONFIG": json.dumps(config)}
    html = (static.STATIC / "docs.html").read_text(encoding="utf-8")
    for name, value in values.items():
        html = html.replace("{{" + name + "}}", str(escape(value)))
    response = Response(html, mimetype="text/html")
    response.cache_control.no_cache = True
    response.headers["Content-Security-Policy"] = content_security_policy(ui_url)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
