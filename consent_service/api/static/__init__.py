"""Static files served by the API (banner script, demo page, API docs page and its script)."""

from __future__ import annotations

from pathlib import Path

from flask import Response, request
from werkzeug.wrappers import Response as WerkzeugResponse

STATIC = Path(__file__).parent


def script(name: str, *, max_age: int, mimetype: str = "application/javascript") -> WerkzeugResponse:
    """The file ``name`` of this folder (a script unless ``mimetype`` says otherwise), public for
    ``max_age`` seconds, answering 304 to its ETag."""
    response = Response((STATIC / name).read_bytes(), mimetype=mimetype)
    response.cache_control.public = True
    response.cache_control.max_age = max_age
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.add_etag()
    return response.make_conditional(request)
