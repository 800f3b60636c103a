"""The HTTP API: flask-smorest blueprints, one module per resource, problem+json errors."""

from __future__ import annotations

import http
from typing import Any

import flask
from flask import Flask
from flask_smorest import Api
from flask_smorest.utils import prepare_response

from consent_service.api import (
    banner,
    boundary,
    consents,
    cookies,
    decisions,
    docs,
    events,
    health,
    identity_types,
    imports,
    ledger,
    problems,
    public,
    purposes,
    receipts,
    recipients,
    requests,
    retention,
    retention_runs,
    ropa,
    segments,
    sites,
    stats,
    stores,
    subjects,
    vault,
    well_known,
)
from consent_service.api.openapi import SchemaRules

BLUEPRINTS = (
    health.blp,
    well_known.blp,
    purposes.blp,
    cookies.blp,
    sites.blp,
    consents.blp,
    decisions.blp,
    subjects.blp,
    events.blp,
    segments.blp,
    imports.blp,
    ledger.blp,
    receipts.blp,
    public.blp,
    banner.blp,
    vault.blp,
    requests.blp,
    stores.blp,
    recipients.blp,
    identity_types.blp,
    retention.rules_blp,
    retention.holds_blp,
    retention_runs.blp,
    ropa.blp,
    stats.blp,
    requests.packages_blp,
)


class ConsentApi(Api):
    """flask-smorest's Api documenting every error answer as ``application/problem+json``."""

    ERROR_SCHEMA = problems.ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if status >= 400:
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, problems.PROBLEM_JSON)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "A problem (RFC 9457)", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, problems.PROBLEM_JSON)
        self.spec.components.response(self.DEFAULT_ERROR_RESPONSE_NAME, response, lazy=True)

    def _openapi_swagger_ui(self) -> flask.typing.ResponseReturnValue:
        """``/docs``: our page (no inline script, a strict CSP) instead of flask-smorest's template."""
        return docs.page(
            title=self.spec.title,
            spec_url=flask.url_for(f"{self._make_doc_blueprint_name()}.openapi_json"),
            ui_url=self._swagger_ui_url,
            config=self.config.get("OPENAPI_SWAGGER_UI_CONFIG", {}),
        )


def init_api(app: Flask) -> Api:
    app.config.update(
        API_TITLE="consent_service",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        # Swagger UI's files are served by the service itself (api/docs.py): /docs works offline.
        OPENAPI_SWAGGER_UI_URL=app.config.get("OPENAPI_SWAGGER_UI_URL", docs.SWAGGER_UI_URL),
    )
    app.register_blueprint(docs.assets)
    app.register_blueprint(banner.demo_assets)
    api = ConsentApi(
        app,
        spec_kwargs={
            "extra_plugins": [SchemaRules()],
            "security": [{"bearerAuth": []}],
            "info": {
                "description": "Consent ledger, processing gate and data subject requests. Every "
                "string must be Unicode text without NUL characters (answered 422 otherwise); "
                "unknown query parameters are refused; a body that names a purpose, cookie, "
                "store or subject that is not registered is answered 404."
            },
        },
    )
    api.spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme("siteKey", {"type": "apiKey", "in": "header", "name": "X-Site-Key"})
    for name, converter in (("key", boundary.KeyConverter), ("cookie", boundary.CookieConverter)):
        app.url_map.converters[name] = converter
        api.register_converter(converter, converter.openapi)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    problems.register(app)  # after Api(): replaces flask-smorest's JSON error handler
    max_batch = app.extensions["consent"].config.max_batch_body_bytes
    app.before_request(lambda: decisions.allow_large_batches(max_batch))
    max_import = app.extensions["consent"].config.max_import_bytes
    app.before_request(lambda: imports.allow_import_bodies(max_import))
    boundary.install(app)  # after the batch limit: it reads chunked bodies up to the route's limit
    return api
