"""Who is signed in, for how long, and what they may do.

- ``session["staff"]`` holds the signed-in account's id, ``session["seen"]`` the time of its last
  request (the service's clock). A session idle for ``CONSENT_CONSOLE_IDLE_MINUTES`` is cleared and
  the browser sent to the sign-in page; an account disabled meanwhile is signed out the same way.
- Every POST to the console must carry the session's CSRF token: without it the view never runs
  and a page says why (400).
- ``requires(action)`` guards a view with ``staff.service.can``: not signed in → the sign-in page;
  a role without the right → 403; an account that must change its password → that page first;
  an administrator who must enrol a second factor (``staff.totp.must_enrol``) → the enrolment.
- Between the right password and the right code of an account with a second factor the session
  holds only ``session["pending"]`` (the account id and when): that grants no page but the code
  page, for ``PENDING_MINUTES``.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from consent_service.context import Context
from consent_service.staff import service as staff
from consent_service.staff import totp
from consent_service.web.i18n import language

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def context() -> Context:
    return current_app.extensions["consent"]


def _now() -> dt.datetime:
    return context().now()


def sign_in(user: dict[str, Any]) -> None:
    """A fresh session for ``user``: nothing of the old one is kept (no session fixation)."""
    session.clear()
    session["sid"] = secrets.token_urlsafe(16)
    session["staff"] = user["id"]
    session["seen"] = _now().timestamp()


def sign_out() -> None:
    session.clear()


PENDING_MINUTES = 5


def await_code(user: dict[str, Any]) -> None:
    """The password was right; a fresh session that waits for the code and grants nothing else."""
    session.clear()
    session["pending"] = {"staff": user["id"], "at": _now().timestamp()}


def pending_user_id() -> str | None:
    """The account whose code the sign-in waits for (None when none, or it waited too long)."""
    pending = session.get("pending")
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int | float):
        return None
    if _now() - dt.datetime.fromtimestamp(pending["at"], dt.UTC) > dt.timedelta(minutes=PENDING_MINUTES):
        session.pop("pending", None)
        return None
    return str(pending.get("staff"))


# the pages an administrator who must enrol a second factor may still use
ENROLMENT_PAGES = {"console.password", "console.enrol", "console.enrol_start", "console.enrol_qr"}


def current_user() -> dict[str, Any] | None:
    """The signed-in account of this request (None when nobody is, or the session expired)."""
    if "user" in g:
        return g.user
    user = None
    user_id, seen = session.get("staff"), session.get("seen")
    if user_id and isinstance(seen, int | float):
        idle = dt.timedelta(minutes=context().config.console_idle_minutes)
        now = _now()
        if now - dt.datetime.fromtimestamp(seen, dt.UTC) <= idle:
            user = staff.get_user(context(), user_id)
        if user is None:
            session.clear()
            g.expired = True
        else:
            session["seen"] = now.timestamp()
    g.user = user
    return user


def requires(action: str) -> Callable[[View], View]:
    def decorate(view: View) -> View:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            user = current_user()
            if user is None:
                return redirect(
                    url_for("console.login", expired=1) if g.get("expired") else url_for("console.login")
                )
            if user["must_change_password"] and request.endpoint != "console.password":
                return redirect(url_for("console.password"))
            if totp.must_enrol(context().config, user) and request.endpoint not in ENROLMENT_PAGES:
                return redirect(url_for("console.enrol"))
            if not staff.can(user["role"], action):
                return render_template("console/error.html", kind="forbidden"), 403
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def _check_csrf() -> ResponseReturnValue | None:
    if request.method != "POST" or request.endpoint == "console.not_found":  # that page changes nothing
        return None
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return render_template("console/error.html", kind="csrf"), 400
    return None


ROLE_NAMES = {
    "admin": _l("administrator"),
    "dpo": _l("data protection officer"),
    "agent": _l("support agent"),
    "auditor": _l("auditor"),
}


# The console's sections in the order of the navigation: (section, endpoint, label, action). A
# section is shown once its endpoint exists and to the roles that may do its action; the page
# passes its ``section`` to the template so that its entry is marked as the current one.
SECTIONS = (
    ("requests", "console.inbox", _l("Requests"), "read"),
    ("subjects", "console.subjects", _l("Subjects"), "read"),
    ("registry", "console.registry", _l("Registry"), "read"),
    ("stores", "console.stores", _l("Stores"), "read"),
    ("retention", "console.retention", _l("Retention"), "read"),
    ("records", "console.records", _l("Records of processing"), "read"),
    ("ledger", "console.ledger", _l("Ledger"), "read"),
    ("statistics", "console.statistics", _l("Statistics"), "read"),
    ("clients", "console.clients", _l("API clients"), "clients:manage"),
    ("staff", "console.staff", _l("Staff"), "staff:manage"),
    ("account", "console.account", _l("Your account"), "read"),
)


def navigation(user: dict[str, Any] | None) -> list[dict[str, Any]]:
    if user is None or totp.must_enrol(context().config, user):
        return []
    built = current_app.view_functions
    return [
        {"section": section, "endpoint": endpoint, "label": label}
        for section, endpoint, label, action in SECTIONS
        if endpoint in built and staff.can(user["role"], action)
    ]


def _template_values() -> dict[str, Any]:
    return {
        "navigation": navigation(current_user()),
        "staff_user": current_user(),
        "controller_name": context().config.controller_name,
        "current_language": language(),
        "role_names": ROLE_NAMES,
    }


def install(blueprint: Blueprint) -> None:
    blueprint.before_request(_check_csrf)
    blueprint.context_processor(_template_values)
