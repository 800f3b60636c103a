"""The signed-in person's own account: e-mail, role, password link, and the second factor
(enrolment with a QR code, removal with the password). Every change is one call of
``staff.totp``; a staff member may secure their own account whatever their role, so these pages
need only ``read`` (as the password page does).
"""

from __future__ import annotations

import io
from typing import Any

import segno
from flask import Response, abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from consent_service.errors import Conflict, InvalidInput
from consent_service.staff import totp
from consent_service.web.console import blueprint
from consent_service.web.console.access_forms import CodeForm, DisableSecondFactorForm, apply_errors
from consent_service.web.console.forms import PASSWORD_PROBLEMS, SignOutForm
from consent_service.web.console.guard import context, current_user, requires
from consent_service.web.i18n import moment

# what the second-factor service says (English), as the page says it
TOTP_PROBLEMS = PASSWORD_PROBLEMS | {
    totp.WRONG_CODE: _l("This code is not right. Enter the code your app shows now."),
    "start the enrolment again": _l("The set-up was not started. Start it again."),
    totp.ALREADY: _l("A second factor is already set up."),
    totp.KEEP: _l("Administrators must keep their second factor."),
}


def _me() -> dict[str, Any]:
    user = current_user()
    assert user is not None  # requires() let only a signed-in account through
    return user


@blueprint.route("/account")
@requires("read")
def account() -> ResponseReturnValue:
    user = _me()
    enrolled = moment(user["totp_enrolled_at"]) or None
    last = moment(user["last_sign_in_at"]) or None
    return render_template(
        "console/account/account.html",
        user=user,
        enrolled=enrolled,
        last_sign_in=last,
        required=totp.must_enrol(context().config, user | {"totp": False}),
        section="account",
    )


@blueprint.route("/account/2fa", methods=["GET", "POST"])
@requires("read")
def enrol() -> ResponseReturnValue:
    """Set up the second factor: start (a new secret), then confirm with a first code."""
    user = _me()
    if user["totp"]:
        return redirect(url_for("console.account"))
    ctx = context()
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            totp.confirm_enrolment(ctx, user["id"], form.code.data or "")
        except InvalidInput as exc:
            apply_errors(form, exc, TOTP_PROBLEMS, default="code")
            status = 422
        else:
            return redirect(url_for("console.account", enrolled=1))
    elif form.is_submitted():
        status = 422
    pending = totp.pending_enrolment(ctx, user["id"])
    forced = totp.must_enrol(ctx.config, user)
    return render_template(
        "console/account/enrol.html",
        form=form,
        start=SignOutForm(),
        pending=pending,
        secret_groups=_groups(pending["secret"]) if pending else "",
        forced=forced,
        section="account",
    ), status


@blueprint.route("/account/2fa/start", methods=["POST"])
@requires("read")
def enrol_start() -> ResponseReturnValue:
    """A new secret for the enrolment page (replacing one not yet confirmed)."""
    SignOutForm()  # an empty form: its token was checked before the view (guard)
    if not _me()["totp"]:
        totp.begin_enrolment(context(), _me()["id"])
    return redirect(url_for("console.enrol"))


def _groups(secret: str) -> str:
    """The secret in groups of four, easier to type."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


@blueprint.route("/account/2fa/qr.svg")
@requires("read")
def enrol_qr() -> ResponseReturnValue:
    """The pending enrolment's otpauth URI as a QR code (SVG, never cached)."""
    pending = totp.pending_enrolment(context(), _me()["id"])
    if pending is None:
        abort(404)
    svg = io.BytesIO()
    segno.make(pending["uri"], error="m").save(
        svg, kind="svg", scale=6, border=4, xmldecl=False, dark="#000", light="#fff"
    )
    return Response(svg.getvalue(), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})


@blueprint.route("/account/2fa/remove", methods=["GET", "POST"])
@requires("read")
def disable_2fa() -> ResponseReturnValue:
    user = _me()
    if not user["totp"]:
        return redirect(url_for("console.account"))
    form = DisableSecondFactorForm()
    problem, status = None, 200
    if form.validate_on_submit():
        try:
            totp.disable(context(), user["id"], password=form.password.data or "")
        except InvalidInput as exc:
            apply_errors(form, exc, TOTP_PROBLEMS, default="password")
            status = 422
        except Conflict as exc:
            problem, status = TOTP_PROBLEMS.get(exc.detail, exc.detail), 409
        else:
            return redirect(url_for("console.account"))
    elif form.is_submitted():
        status = 422
    return render_template(
        "console/account/disable.html", form=form, problem=problem, section="account"
    ), status
