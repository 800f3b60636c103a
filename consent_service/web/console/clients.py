"""API clients (administrators only, ``clients:manage``): the list, a new client with its token
(shown once, on the page that answers the POST; only its hash is stored), revoking with a
confirmation. The same ``auth.service`` functions as the CLI; each change lands in the
``clients`` audit log with the staff account that made it.
"""

from __future__ import annotations

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_datetime

from consent_service.auth import service as clients_service
from consent_service.errors import InvalidInput
from consent_service.web.console import blueprint
from consent_service.web.console.access_forms import ClientCreateForm, ConfirmForm, apply_errors
from consent_service.web.console.guard import context, current_user, requires


def _actor() -> str:
    user = current_user()
    assert user is not None  # requires() let only a signed-in account through
    return str(user["id"])


def _row(client: dict[str, object]) -> dict[str, object]:
    revoked = client["revoked_at"]
    return client | {
        "created": format_datetime(client["created_at"], "medium"),
        "revoked": format_datetime(revoked, "medium") if revoked else "",
    }


@blueprint.route("/clients")
@requires("clients:manage")
def clients() -> ResponseReturnValue:
    rows = [_row(c) for c in reversed(clients_service.clients(context()))]
    return render_template("console/clients/list.html", rows=rows, section="clients")


@blueprint.route("/clients/new", methods=["GET", "POST"])
@requires("clients:manage")
def client_create() -> ResponseReturnValue:
    form = ClientCreateForm()
    status = 200
    if form.validate_on_submit():
        try:
            client, token = clients_service.register_client(
                context(), form.name.data or "", list(form.scopes.data or []), actor=_actor()
            )
        except InvalidInput as exc:
            apply_errors(form, exc, {}, default="name")
            status = 422
        else:
            return render_template(
                "console/clients/token.html", client=_row(client), token=token, section="clients"
            ), 201
    elif form.is_submitted():
        status = 422
    return render_template("console/clients/new.html", form=form, section="clients"), status


@blueprint.route("/clients/<client_id>/revoke", methods=["GET", "POST"])
@requires("clients:manage")
def client_revoke(client_id: str) -> ResponseReturnValue:
    client = _row(clients_service.get_client(context(), client_id))
    if client["revoked_at"]:
        return redirect(url_for("console.clients"))
    form = ConfirmForm()
    status = 200
    if form.validate_on_submit():
        clients_service.revoke(context(), client_id, actor=_actor())
        return redirect(url_for("console.clients"))
    if form.is_submitted():
        status = 422
    return render_template("console/clients/revoke.html", form=form, client=client, section="clients"), status
