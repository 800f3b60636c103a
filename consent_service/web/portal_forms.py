"""The portal's forms (Flask-WTF, each with its CSRF token): a new request, and the code.

The forms check what a form can know (a choice was made, an address looks like one, a
rectification names what to correct); the request's own rules are the service's
(``dsar.requests.open_request``), and its errors are put next to these fields by the view.
Nothing is pre-selected: the person chooses the type of request and every purpose.
"""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from consent_service.dsar.requests import MESSAGE_MAX

# the order the portal offers them in: the most asked first
TYPES = ("access", "portability", "erasure", "rectification", "restriction", "objection")
TYPE_TITLES = {
    "access": _l("Access"),
    "portability": _l("Data portability"),
    "erasure": _l("Erasure"),
    "rectification": _l("Rectification"),
    "restriction": _l("Restriction of processing"),
    "objection": _l("Objection"),
}
TYPE_HINTS = {
    "access": _l("Tell me which data you hold about me, and give me a copy."),
    "portability": _l("Give me the data I provided, in a format I can take to another service."),
    "erasure": _l("Delete my data."),
    "rectification": _l("Correct data about me that is wrong."),
    "restriction": _l("Stop using my data for now, but do not delete it."),
    "objection": _l("Stop using my data for the purposes I choose."),
}
NOTHING_TO_OBJECT_TO = _l(
    "Here we use your data only with your consent, for a contract or because the law requires it: "
    "there is nothing to object to."
)
CHANGE_ROWS = 3
CODE = r"^\s*\d{6}\s*$"
REQUEST_ID = r"^\s*req_[0-9a-f]{16}\s*$"


def _stripped(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ChangeRow(Form):
    field = StringField(_l("Which data is wrong"), validators=[Optional(), Length(max=100)])
    value = StringField(_l("The correct value"), validators=[Optional(), Length(max=500)])


class RequestForm(FlaskForm):
    type = RadioField(
        _l("What do you want us to do?"),
        choices=[SelectChoice(t, TYPE_TITLES[t]) for t in TYPES],
        validators=[InputRequired(_l("Choose what you want us to do."))],
    )
    email = EmailField(
        _l("Your e-mail address"),
        validators=[
            DataRequired(_l("Enter your e-mail address.")),
            Length(max=320, message=_l("Use at most 320 characters.")),
            Regexp(
                r"^[^@\s]+@[^@\s]+\.[^@\s]+$", message=_l("Enter an e-mail address like name@example.org.")
            ),
        ],
        description=_l("We send a code to this address. The code shows that the request is yours."),
        filters=[_stripped],
    )
    phone = StringField(
        _l("Phone number (optional)"),
        validators=[Optional(), Length(max=40, message=_l("Use at most 40 characters."))],
    )
    customer_id = StringField(
        _l("Customer number (optional)"),
        validators=[Optional(), Length(max=80, message=_l("Use at most 80 characters."))],
        description=_l(
            "These help us find more of your data. Our data protection team checks them before we use them."
        ),
    )
    # only what the person may object to is offered (``dsar.portal.purpose_choices``); anything
    # else sent is refused here, before the service sees it
    purposes = MultiCheckboxField(
        _l("Which uses of your data do you object to?"),
        choices=[],
        invalid_choice_message=_l("Choose only uses of your data from the list."),
    )
    changes = FieldList(FormField(ChangeRow), min_entries=CHANGE_ROWS, max_entries=CHANGE_ROWS)
    message = TextAreaField(
        _l("Message (optional)"),
        validators=[Optional(), Length(max=MESSAGE_MAX, message=_l("Use at most 2000 characters."))],
        description=_l("Anything else we should know."),
    )
    altcha = HiddenField()

    def __init__(self, *args: Any, purposes: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.purposes.choices = [SelectChoice(key, title) for key, title in purposes]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        if self.type.data == "objection" and not self.purposes.choices:
            self.type.errors = [*self.type.errors, NOTHING_TO_OBJECT_TO]
            valid = False
        elif self.type.data == "objection" and not self.purposes.data:
            self.purposes.errors = [*self.purposes.errors, _l("Choose at least one use of your data.")]
            valid = False
        if self.type.data == "rectification":
            rows = [(r.form.field.data or "").strip() for r in self.changes]
            values = [(r.form.value.data or "").strip() for r in self.changes]
            for row, name, value in zip(self.changes, rows, values, strict=True):
                if bool(name) != bool(value):
                    row.form.field.errors = [_l("Give both the data and its correct value.")]
                    valid = False
            if not any(rows):
                self.changes[0].form.field.errors = [_l("Say which data is wrong and what is correct.")]
                valid = False
        return valid

    def identities(self) -> list[tuple[str, str]]:
        given = [("email", (self.email.data or "").strip())]
        for kind, field in (("phone", self.phone), ("customer_id", self.customer_id)):
            if (field.data or "").strip():
                given.append((kind, field.data.strip()))
        return given

    def given_changes(self) -> dict[str, str]:
        if self.type.data != "rectification":
            return {}
        return {
            r.form.field.data.strip(): r.form.value.data.strip()
            for r in self.changes
            if (r.form.field.data or "").strip() and (r.form.value.data or "").strip()
        }

    def given_purposes(self) -> list[str]:
        return list(self.purposes.data or []) if self.type.data == "objection" else []


class CodeForm(FlaskForm):
    code = StringField(
        _l("Code from the e-mail"),
        validators=[
            DataRequired(_l("Enter the code from the e-mail.")),
            Regexp(CODE, message=_l("The code has 6 digits.")),
        ],
        description=_l("6 digits, for example 123456."),
    )


class NewCodeForm(FlaskForm):
    """Only its CSRF token: the request is in the URL, the addresses are the request's own."""


class FindForm(FlaskForm):
    number = StringField(
        _l("Request number"),
        validators=[
            DataRequired(_l("Enter the request number.")),
            Regexp(
                REQUEST_ID, message=_l("A request number looks like req_ followed by 16 letters and digits.")
            ),
        ],
        description=_l("It is in the e-mails we sent you, for example req_0123456789abcdef."),
    )


class DownloadForm(FlaskForm):
    format = HiddenField()
    collection = HiddenField()
