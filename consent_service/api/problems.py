"""RFC 9457 problem details for every error the API returns.

``STATUS`` is the one table from domain errors to HTTP statuses. Schema errors (422) carry
``errors`` (field -> messages). The 500 for the unexpected says nothing of internals.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, json, request
from marshmallow import INCLUDE, Schema, fields
from werkzeug.exceptions import HTTPException

from consent_service import errors as domain
from consent_service.api.boundary import printable
from consent_service.logs import redact_path

log = logging.getLogger("consent_service.api")

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://consent-service.dev/problems/"

STATUS: dict[type[domain.DomainError], int] = {
    domain.InvalidInput: 422,
    domain.UnknownPurpose: 404,
    domain.UnknownCookie: 404,
    domain.UnknownSubject: 404,
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Unauthorized: 401,
    domain.Forbidden: 403,
    domain.Gone: 410,
    domain.RateLimited: 429,
    domain.ConfigurationError: 503,
}

HTTP_SLUGS = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    410: "gone",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
}


class ProblemSchema(Schema):
    """The body of every 4xx and 5xx answer (RFC 9457), as the OpenAPI documents it."""

    class Meta:
        unknown = INCLUDE  # problem types may add members (e.g. retry_after, request_id)

    type = fields.Str(required=True, metadata={"description": "URI naming the kind of problem"})
    title = fields.Str(required=True)
    status = fields.Int(required=True)
    detail = fields.Str(required=True)
    instance = fields.Str(allow_none=True, metadata={"description": "the request path"})
    errors = fields.Raw(
        metadata={"description": "field problems: field -> messages (nested like the body), or a list"}
    )


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str | None = None,
    errors: Any = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or HTTP_SLUGS.get(status, "error")),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": printable(request.path) if request else None,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def status_for(exc: domain.DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def _domain(exc: domain.DomainError) -> Response:
    status = status_for(exc)
    headers = {}
    if isinstance(exc, domain.RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if isinstance(exc, domain.Unauthorized):
        headers["WWW-Authenticate"] = 'Bearer realm="consent-service"'
    # The class and the path only: an error's detail can name the values it refused.
    log.info("%d %s on %s %s", status, type(exc).__name__, request.method, redact_path(request.path))
    return problem(
        status, exc.title, exc.detail, slug=exc.slug, errors=exc.errors, headers=headers, **exc.extra
    )


def _http(exc: HTTPException) -> Response:
    status = exc.code or 500
    errors = None
    data = getattr(exc, "data", None)
    if isinstance(data, dict) and "messages" in data:
        messages = data["messages"]
        if isinstance(messages, dict) and len(messages) == 1:
            messages = next(iter(messages.values()))
        errors = messages
    detail = exc.description or exc.name
    if status == 422:
        detail = "The request body or query does not match the schema; see errors."
    elif status == 400 and errors:
        detail = "The request body is not valid JSON."
        errors = None
    elif status == 413:
        detail = f"The request body is larger than {request.max_content_length} bytes."
    headers = {}
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return problem(status, exc.name, detail, errors=errors, headers=headers)


def _unexpected(exc: Exception) -> Response:
    # The traceback is logged without exception messages (consent_service.logs.JsonFormatter),
    # the path with its secret segments redacted and no query string.
    log.exception("unhandled error on %s %s", request.method, redact_path(request.path))
    return problem(
        500,
        "Internal Server Error",
        "The service failed unexpectedly; the error has been logged.",
        slug="internal",
    )


def register(app: Flask) -> None:
    app.register_error_handler(domain.DomainError, _domain)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _unexpected)
