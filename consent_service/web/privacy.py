"""The public confirmation page of double opt-in, at ``/privacy/confirm``.

``GET ?token=…`` only shows what the link would confirm and a button: mail scanners fetch the
links of e-mails, and a fetch must not give consent. The button POSTs the token back; that POST
confirms once (``optin.service.confirm``) and redirects to a page saying so (post/redirect/get).
An expired link explains itself and offers a new e-mail (POST ``/privacy/confirm/resend``, rate
limited per address by the service); a used one says it was confirmed already.

The page is in the language the person consented in (the link's), whatever device opens it.
Forgery: the form's only field is the link's token, the secret of the e-mail, so a page on
another site cannot post a confirmation it does not know the token of; the answers carry the
console's security headers (strict CSP, no framing).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from consent_service.context import Context
from consent_service.errors import Conflict, Gone, NotFound, RateLimited
from consent_service.ledger.service import truncate_ip
from consent_service.optin import service as optin
from consent_service.web.i18n import language, moment

blueprint = Blueprint("privacy", __name__, template_folder="templates")
TOKEN_LENGTH = 128


def _ctx() -> Context:
    context: Context = current_app.extensions["consent"]
    return context


def _token() -> str:
    return (request.values.get("token") or "")[:TOKEN_LENGTH]


def _page(state: optin.LinkState | None, status: int = 200, **values: Any) -> tuple[str, int]:
    if state is not None:
        g.page_language = state.language
    return (
        render_template(
            "privacy/confirm.html",
            link=state,
            token=_token(),
            current_language=language(),
            controller_name=_ctx().config.controller_name,
            **values,
        ),
        status,
    )


@blueprint.get("/confirm")
def confirm_page() -> tuple[str, int]:
    """What the link confirms, and the button; a GET never confirms."""
    state = optin.inspect(_ctx(), _token())
    return _page(state, 404 if state.state == "unknown" else 200)


@blueprint.post("/confirm")
def confirm() -> Response | tuple[str, int]:
    token = _token()
    context = _ctx()
    try:
        optin.confirm(
            context,
            token,
            ip=truncate_ip(request.remote_addr) if request.remote_addr else None,
            user_agent=request.headers.get("User-Agent"),
        )
    except (Gone, NotFound):
        state = optin.inspect(context, token)
        return _page(state, 404 if state.state == "unknown" else 410)
    return redirect(url_for("privacy.confirmed", token=token), 303)


@blueprint.get("/confirmed")
def confirmed() -> tuple[str, int]:
    state = optin.inspect(_ctx(), _token())
    return _page(state, 200 if state.confirmed else 404, done=state.confirmed)


@blueprint.post("/confirm/resend")
def resend() -> tuple[str, int]:
    token = _token()
    context = _ctx()
    state = optin.inspect(context, token)
    try:
        expires = optin.resend(context, token)
    except RateLimited:
        return _page(state, 429, resend_problem="wait")
    except (Conflict, Gone, NotFound):
        return _page(state, 409 if state.state != "unknown" else 404, resend_problem="refused")
    return _page(state, 200, resent=moment(expires))
