"""The console's forms (Flask-WTF: each carries the session's CSRF token)."""

from __future__ import annotations

from typing import Any

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from consent_service.config import SUPPORTED_LANGUAGES
from consent_service.dsar.messages import type_name
from consent_service.dsar.requests import OPEN_STATES, TYPES
from consent_service.web.i18n import language


class LoginForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[
            DataRequired(_l("Enter your e-mail address.")),
            Regexp(r"^[^@\s]+@[^@\s]+$", message=_l("Enter a valid e-mail address.")),
        ],
    )
    password = PasswordField(_l("Password"), validators=[DataRequired(_l("Enter your password."))])


class PasswordForm(FlaskForm):
    old = PasswordField(_l("Current password"), validators=[DataRequired(_l("Enter your current password."))])
    new = PasswordField(
        _l("New password"),
        validators=[DataRequired(_l("Enter a new password.")), Length(max=256)],
        description=_l("At least 12 characters; not a common password and not your e-mail address."),
    )
    repeat = PasswordField(
        _l("Repeat the new password"),
        validators=[
            DataRequired(_l("Repeat the new password.")),
            EqualTo("new", _l("The passwords differ.")),
        ],
    )


# what the staff service says of a password (English), as the page says it in the reader's language
PASSWORD_PROBLEMS = {
    "this is not your current password": _l("This is not your current password."),
    "choose a new password": _l("Choose a password other than the current one."),
    "use at least 12 characters": _l("Use at least 12 characters."),
    "use at most 256 characters": _l("Use at most 256 characters."),
    "this password is on a list of common or breached passwords": _l(
        "This password is on a list of common or breached passwords."
    ),
    "use more than one or two different characters": _l("Use more than one or two different characters."),
    "do not use your e-mail address or the product's name in it": _l(
        "Do not use your e-mail address or the product's name in it."
    ),
}


class SignOutForm(FlaskForm):
    pass


class LanguageForm(FlaskForm):
    language = SelectField(choices=[SelectChoice(code, code.upper()) for code in SUPPORTED_LANGUAGES])
    next = StringField()


# The request types' names come from the one list of them (``dsar.messages.type_name``), in the
# language of the page that shows them.
TYPE_NAMES = {t: LazyString(lambda t=t: type_name(t, language())) for t in TYPES}
STATE_NAMES = {
    "received": _l("received"),
    "identity_pending": _l("identity pending"),
    "verified": _l("verified"),
    "in_progress": _l("in progress"),
    "failed": _l("failed"),
    "completed": _l("completed"),
    "rejected": _l("refused"),
}
DUE_WITHIN = {"P7D": _l("7 days"), "P14D": _l("14 days"), "P30D": _l("30 days")}


def _choices(anything: object, names: dict[str, Any]) -> list[SelectChoice]:
    """An empty first option that means "no filter", then one per name."""
    return [SelectChoice("", anything)] + [SelectChoice(key, label) for key, label in names.items()]


class InboxFilter(FlaskForm):
    """The inbox's filters: a GET form (no personal data in them, so no CSRF token needed)."""

    class Meta:
        csrf = False

    type = SelectField(
        _l("Type"), choices=_choices(_l("All types"), {t: TYPE_NAMES[t] for t in TYPES}), default=""
    )
    state = SelectField(
        _l("State"), choices=_choices(_l("All open"), {s: STATE_NAMES[s] for s in OPEN_STATES}), default=""
    )
    overdue = BooleanField(_l("Overdue only"))
    due_within = SelectField(_l("Due within"), choices=_choices(_l("Any time"), DUE_WITHIN), default="")
