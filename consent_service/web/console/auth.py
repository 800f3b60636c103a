"""Signing in and out (password, then the code of a second factor when the account has one),
changing the password, choosing the language (post/redirect/get); the page for any other address."""

from __future__ import annotations

from typing import Any

from flask import current_app, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.exceptions import MethodNotAllowed, NotFound

from consent_service import errors as domain
from consent_service.context import Context
from consent_service.errors import InvalidInput, RateLimited, Unauthorized
from consent_service.ratelimit import limiter_of
from consent_service.staff import service as staff
from consent_service.staff import totp
from consent_service.web.console import blueprint
from consent_service.web.console.access_forms import CodeForm
from consent_service.web.console.forms import (
    PASSWORD_PROBLEMS,
    LanguageForm,
    LoginForm,
    PasswordForm,
    SignOutForm,
)
from consent_service.web.console.guard import (
    await_code,
    context,
    current_user,
    pending_user_id,
    requires,
    sign_in,
    sign_out,
)
from consent_service.web.i18n import LANGUAGE_COOKIE

YEAR = 365 * 24 * 3600


def _client_ip() -> str:
    return request.remote_addr or "unknown"


def _locked(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return ngettext(
        "Too many attempts. Try again in %(num)d minute.",
        "Too many attempts. Try again in %(num)d minutes.",
        minutes,
    )


@blueprint.route("/")
def home() -> ResponseReturnValue:
    return redirect(url_for("console.inbox"))


ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@blueprint.route("/<path:unknown>", methods=ANY_METHOD)
def not_found(unknown: str) -> ResponseReturnValue:
    """Any other console address or method: a page (404, or 405 with the methods the address
    takes), not the API's problem document. It changes nothing, so no CSRF token is asked for."""
    adapter = current_app.url_map.bind("", url_scheme=request.scheme)
    allowed = set()
    for method in ("GET", "POST"):
        try:
            endpoint, _args = adapter.match(request.path, method=method)
        except (NotFound, MethodNotAllowed):
            continue
        if endpoint != "console.not_found":
            allowed.add(method)
    if allowed:
        headers = {"Allow": ", ".join(sorted(allowed | ({"HEAD"} if "GET" in allowed else set())))}
        return render_template("console/error.html", kind="method"), 405, headers
    return render_template("console/error.html", kind="not_found"), 404


@blueprint.errorhandler(domain.NotFound)
def unknown_object(exc: domain.NotFound) -> ResponseReturnValue:
    """An id in a console address that names nothing: the same page as an unknown address."""
    return render_template("console/error.html", kind="not_found"), 404


def _attempt(ctx: Context) -> None:
    """Count a sign-in attempt of this client address (password or code); RateLimited past the limit."""
    wait = limiter_of(ctx).hit("console-login", ctx.config.console_login_limit, _client_ip())
    if wait is not None:
        raise RateLimited("too many sign-in attempts from this address", retry_after=wait)


def _signed_in(user: dict[str, Any]) -> ResponseReturnValue:
    sign_in(user)
    return redirect(url_for("console.password" if user["must_change_password"] else "console.inbox"))


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if request.method == "GET" and current_user() is not None:
        return redirect(url_for("console.inbox"))
    form = LoginForm()
    problem = _("Your session has ended. Please sign in again.") if request.args.get("expired") else None
    status = 200
    if form.validate_on_submit():
        ctx = context()
        try:
            _attempt(ctx)
            user = staff.authenticate(
                ctx, email=form.email.data or "", password=form.password.data or "", client_ip=_client_ip()
            )
        except Unauthorized:
            problem, status = _("Wrong e-mail address or password."), 401
        except RateLimited as exc:
            problem, status = _locked(exc.retry_after), 429
        else:
            if user["totp"]:
                await_code(user)
                return redirect(url_for("console.login_code"))
            return _signed_in(user)
    elif form.is_submitted():
        status = 422
    return render_template("console/login.html", form=form, problem=problem), status


@blueprint.route("/login/code", methods=["GET", "POST"])
def login_code() -> ResponseReturnValue:
    """The second step of signing in: the code of the account's authenticator app."""
    user_id = pending_user_id()
    if user_id is None:
        return redirect(url_for("console.login"))
    form = CodeForm()
    problem, status = None, 200
    if form.validate_on_submit():
        ctx = context()
        try:
            _attempt(ctx)
            user = totp.sign_in(ctx, user_id, form.code.data or "", client_ip=_client_ip())
        except Unauthorized:
            problem, status = _("This code is not right. Enter the code your app shows now."), 401
        except RateLimited as exc:
            problem, status = _locked(exc.retry_after), 429
        else:
            return _signed_in(user)
    elif form.is_submitted():
        status = 422
    return render_template("console/account/code.html", form=form, problem=problem), status


@blueprint.route("/logout", methods=["POST"])
def logout() -> ResponseReturnValue:
    SignOutForm()  # its token was checked before the view (guard)
    sign_out()
    return redirect(url_for("console.login"))


@blueprint.route("/password", methods=["GET", "POST"])
@requires("read")
def password() -> ResponseReturnValue:
    form = PasswordForm()
    user = current_user()
    assert user is not None  # requires() let only a signed-in account through
    status = 200
    if form.validate_on_submit():
        try:
            staff.change_password(context(), user["id"], old=form.old.data or "", new=form.new.data or "")
        except InvalidInput as exc:
            for name, messages in (exc.errors or {}).items():
                field = getattr(form, name, form.new)
                field.errors = [*field.errors, *(str(PASSWORD_PROBLEMS.get(str(m), m)) for m in messages)]
            status = 422
        else:
            return redirect(url_for("console.inbox"))
    elif form.is_submitted():
        status = 422
    return render_template("console/password.html", form=form, forced=user["must_change_password"]), status


@blueprint.route("/language", methods=["POST"])
def language() -> ResponseReturnValue:
    form = LanguageForm()
    target = form.next.data or ""
    if not target.startswith("/console") or "//" in target or "\\" in target:
        target = url_for("console.home")
    response = make_response(redirect(target))
    if form.validate():
        response.set_cookie(
            LANGUAGE_COOKIE,
            form.language.data or "",
            max_age=YEAR,
            path="/console",
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response
