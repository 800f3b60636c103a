"""Request ids: every response carries ``X-Request-Id`` and every log record of the request
names it (``consent_service.logs``). A well-formed id sent by the caller (or a proxy) is kept, so
one request can be followed across systems; anything else is replaced by a fresh one.
"""

from __future__ import annotations

import uuid

from flask import Flask, Response, g, request

from consent_service.logs import REQUEST_ID_HEADER, request_id_var, well_formed_request_id


def _start() -> None:
    incoming = request.headers.get(REQUEST_ID_HEADER)
    g.request_id = incoming if well_formed_request_id(incoming) else uuid.uuid4().hex
    g.request_id_token = request_id_var.set(g.request_id)


def _answer(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response


def _end(_exc: BaseException | None) -> None:
    token = g.pop("request_id_token", None)
    if token is not None:
        request_id_var.reset(token)


def install(app: Flask) -> None:
    """Register first, so the id is there before any other hook can fail or log."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_answer)
    app.teardown_request(_end)
