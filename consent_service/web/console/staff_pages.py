"""Staff accounts (administrators only, ``staff:manage``): the list, a new account with its
one-time password, disabling (the staff service refuses the last administrator), a password
reset, removing a lost second factor. The one-time passwords are shown once, on the page that answers the POST, and are
stored nowhere but as a hash. The pages call the same ``staff.service`` functions as the CLI.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l

from consent_service.errors import Conflict, InvalidInput
from consent_service.staff import service as staff_service
from consent_service.staff import totp
from consent_service.web.console import blueprint
from consent_service.web.console.access_forms import ConfirmForm, StaffCreateForm, apply_errors
from consent_service.web.console.guard import context, current_user, requires
from consent_service.web.i18n import moment

STAFF_PROBLEMS = {
    "give an e-mail address such as dpo@example.org": _l("Enter an e-mail address such as dpo@example.org."),
    "this is the last admin account; create another admin first": _l(
        "This is the last administrator account. Create another administrator first."
    ),
}


def _actor() -> str:
    user = current_user()
    assert user is not None  # requires() let only a signed-in account through
    return str(user["id"])


@blueprint.route("/staff")
@requires("staff:manage")
def staff() -> ResponseReturnValue:
    rows = [u | {"last": moment(u["last_sign_in_at"])} for u in staff_service.list_users(context())]
    return render_template("console/staff/list.html", rows=rows, section="staff")


@blueprint.route("/staff/new", methods=["GET", "POST"])
@requires("staff:manage")
def staff_create() -> ResponseReturnValue:
    form = StaffCreateForm()
    problem, status = None, 200
    if form.validate_on_submit():
        try:
            user, one_time = staff_service.create_user(
                context(), email=form.email.data or "", role=form.role.data or "", actor=_actor()
            )
        except InvalidInput as exc:
            apply_errors(form, exc, STAFF_PROBLEMS, default="email")
            status = 422
        except Conflict:
            form.email.errors = [*form.email.errors, str(_l("This e-mail address already has an account."))]
            status = 409
        else:
            return render_template(
                "console/staff/password.html", user=user, one_time=one_time, created=True, section="staff"
            ), 201
    elif form.is_submitted():
        status = 422
    return render_template("console/staff/new.html", form=form, problem=problem, section="staff"), status


def _confirm_page(
    form: ConfirmForm, target: dict[str, Any], kind: str, problem: object = None
) -> ResponseReturnValue:
    status = 409 if problem else 422 if form.is_submitted() else 200
    return render_template(
        "console/staff/confirm.html", form=form, problem=problem, target=target, kind=kind, section="staff"
    ), status


@blueprint.route("/staff/<user_id>/disable", methods=["GET", "POST"])
@requires("staff:manage")
def staff_disable(user_id: str) -> ResponseReturnValue:
    target, form = staff_service.find_user(context(), user_id), ConfirmForm()
    if form.validate_on_submit():
        try:
            staff_service.disable_user(context(), target["id"], actor=_actor())
        except Conflict as exc:
            return _confirm_page(form, target, "disable", STAFF_PROBLEMS.get(exc.detail, exc.detail))
        return redirect(url_for("console.staff"))
    return _confirm_page(form, target, "disable")


@blueprint.route("/staff/<user_id>/reset-password", methods=["GET", "POST"])
@requires("staff:manage")
def staff_reset(user_id: str) -> ResponseReturnValue:
    target, form = staff_service.find_user(context(), user_id), ConfirmForm()
    if form.validate_on_submit():
        user, one_time = staff_service.reset_password(context(), target["id"], actor=_actor())
        return render_template(
            "console/staff/password.html", user=user, one_time=one_time, created=False, section="staff"
        )
    return _confirm_page(form, target, "reset")


@blueprint.route("/staff/<user_id>/reset-2fa", methods=["GET", "POST"])
@requires("staff:manage")
def staff_reset_2fa(user_id: str) -> ResponseReturnValue:
    """Remove someone's second factor (a lost device), as ``consent-service users reset-2fa`` does."""
    target, form = staff_service.find_user(context(), user_id), ConfirmForm()
    if form.validate_on_submit():
        totp.reset(context(), target["id"], actor=_actor())
        return redirect(url_for("console.staff"))
    return _confirm_page(form, target, "reset_2fa")
