"""The forms of the second factor, the account, staff and API-client pages, and how a service's
InvalidInput lands on their fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from consent_service.auth.service import SCOPES
from consent_service.errors import InvalidInput
from consent_service.staff.service import ROLES
from consent_service.web.console.guard import ROLE_NAMES


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[
            DataRequired(_l("Enter the code.")),
            Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Enter the 6 digits of the code.")),
        ],
        description=_l("The 6 digits your authenticator app shows now."),
    )


class DisableSecondFactorForm(FlaskForm):
    password = PasswordField(
        _l("Current password"), validators=[DataRequired(_l("Enter your current password."))]
    )
    confirm = BooleanField(
        _l("Remove the second factor: signing in will need only the password"),
        validators=[DataRequired(_l("Confirm that the second factor is to be removed."))],
    )


class ConfirmForm(FlaskForm):
    """A destructive action's confirmation: the box must be ticked."""

    confirm = BooleanField(_l("Yes, do this"), validators=[DataRequired(_l("Tick the box to confirm."))])


class StaffCreateForm(FlaskForm):
    email = EmailField(
        _l("E-mail address"),
        validators=[DataRequired(_l("Enter an e-mail address.")), Length(max=254)],
    )
    role = SelectField(_l("Role"), choices=[SelectChoice(role, ROLE_NAMES[role]) for role in ROLES])


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ClientCreateForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[DataRequired(_l("Give the client a name.")), Length(max=200)],
        description=_l("Which system uses the token, e.g. CRM or newsletter tool."),
    )
    scopes = CheckboxesField(
        _l("Scopes"),
        choices=[SelectChoice(scope, scope) for scope in SCOPES],
        validators=[DataRequired(_l("Choose at least one scope."))],
        description=_l("What the client may do; admin allows everything."),
    )


def apply_errors(form: FlaskForm, exc: InvalidInput, words: Mapping[str, Any], *, default: str) -> None:
    """Put the service's field problems next to the form's fields (unknown fields on ``default``),
    each in the page's words where ``words`` has them."""
    for name, messages in (exc.errors or {}).items():
        field = getattr(form, name, None) or getattr(form, default)
        field.errors = [*field.errors, *(str(words.get(str(m), m)) for m in messages)]
