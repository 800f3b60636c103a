"""The forms of the request pages: search, a new request entered by hand, and the actions of the
request page (verify, extend, refuse, run, complete a task). Each carries the session's CSRF token.

The forms check only what a form can know (a field is filled in, a choice is one of the list);
every rule of the request itself is the service's, and its errors are put next to these fields
(``service_errors``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    Field,
    FieldList,
    Form,
    FormField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from consent_service.config import SUPPORTED_LANGUAGES
from consent_service.dsar.refusal import GROUNDS
from consent_service.dsar.requests import TYPES
from consent_service.subjects.identity_types import request_types
from consent_service.subjects.service import IDENTITY_TYPES
from consent_service.web.console.forms import TYPE_NAMES
from consent_service.web.console.guard import context

IDENTITY_ROWS = 3  # rows of identities on the new-request form (blank rows are ignored)
IDENTITY_NAMES = {
    "email": _l("E-mail address"),
    "phone": _l("Phone number"),
    "customer_id": _l("Customer number"),
    "device_id": _l("Device id"),
}
LANGUAGE_NAMES = {"de": _l("German"), "en": _l("English")}
GROUND_NAMES = {
    "manifestly_unfounded": _l("Manifestly unfounded (Art. 12(5))"),
    "excessive": _l("Excessive, in particular repetitive (Art. 12(5))"),
    "identity_not_verified": _l("Identity not verified (Art. 12(6))"),
    "other": _l("Other ground"),
}
NOTE_MAX = 2000


def _options(keys: Sequence[str], names: Mapping[str, Any]) -> list[SelectChoice]:
    return [SelectChoice(key, names.get(key, key)) for key in keys]


def _offer_identity_types(fields: Sequence[SelectField]) -> None:
    """The kinds of identity a request may name now: the built-in ones and the types registered
    with ``dsar_allowed`` (a registered type appears under its key)."""
    choices = _options(request_types(context()), IDENTITY_NAMES)
    for select in fields:
        select.choices = choices


class SearchForm(FlaskForm):
    """Find requests by their id or by an identity of the person (a POST: nothing in the URL)."""

    request_id = StringField(_l("Request id"), validators=[Optional(), Length(max=40)])
    identity_type = SelectField(
        _l("Kind of identity"), choices=_options(IDENTITY_TYPES, IDENTITY_NAMES), default="email"
    )
    identity_value = StringField(_l("Identity"), validators=[Optional(), Length(max=320)])

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_identity_types([self.identity_type])

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        if not (self.request_id.data or "").strip() and not (self.identity_value.data or "").strip():
            self.request_id.errors = [_l("Enter a request id or an identity.")]
            return False
        return True


class IdentityRow(Form):
    type = SelectField(
        _l("Kind of identity"), choices=_options(IDENTITY_TYPES, IDENTITY_NAMES), default="email"
    )
    value = StringField(_l("Value"), validators=[Optional(), Length(max=320)])


class NewRequestForm(FlaskForm):
    """A request that came by post, phone or e-mail, entered by a member of staff."""

    type = SelectField(_l("Type"), choices=_options(TYPES, TYPE_NAMES))
    received_on = DateField(
        _l("Received on"),
        validators=[InputRequired(_l("Enter the day the request arrived."))],
        description=_l("The day the request really arrived (today or earlier): the deadline counts from it."),
    )
    language = SelectField(
        _l("Language of the person"),
        choices=_options(SUPPORTED_LANGUAGES, LANGUAGE_NAMES),
        description=_l("The messages to the person are written in this language."),
    )
    identities = FieldList(FormField(IdentityRow), min_entries=IDENTITY_ROWS, max_entries=IDENTITY_ROWS)
    purposes = StringField(
        _l("Purposes objected to"),
        validators=[Optional(), Length(max=2000)],
        description=_l("For an objection only: the purpose keys, separated by commas."),
    )
    changes = TextAreaField(
        _l("Corrected values"),
        validators=[Optional(), Length(max=5000)],
        description=_l("For a rectification only: one line per field, such as: email = new@example.org"),
    )
    verify = BooleanField(
        _l("I verified the identity of the person"),
        description=_l("Without this, a code is sent to the e-mail address given."),
    )
    note = TextAreaField(
        _l("How the identity was verified"),
        validators=[Optional(), Length(max=NOTE_MAX)],
        description=_l("For example: signed letter, ID card seen. Kept encrypted in the request's file."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _offer_identity_types([row.form.type for row in self.identities])

    def given_identities(self) -> list[tuple[str, str]]:
        return [
            (row.form.type.data, row.form.value.data.strip())
            for row in self.identities
            if (row.form.value.data or "").strip()
        ]

    def given_purposes(self) -> list[str]:
        return [p.strip() for p in (self.purposes.data or "").split(",") if p.strip()]

    def given_changes(self) -> dict[str, str] | None:
        """The corrected values; None (and an error on the field) when a line is not ``field = value``."""
        found: dict[str, str] = {}
        for line in (self.changes.data or "").splitlines():
            if not line.strip():
                continue
            name, equals, value = line.partition("=")
            if not equals or not name.strip():
                self.changes.errors = [_l("Write each line as: field = value")]
                return None
            found[name.strip()] = value.strip()
        return found


class PanelForm(FlaskForm):
    """A form of the request page's side panel. Its fields carry the form's name as a prefix
    (``verify-note``), so that the panel's forms never share an id; the session's CSRF token is
    sent as ``csrf_token`` (a hidden field of the template) and checked before any view runs."""

    PREFIX = ""

    class Meta:
        csrf = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", self.PREFIX)
        super().__init__(*args, **kwargs)


class VerifyForm(PanelForm):
    PREFIX = "verify"
    note = TextAreaField(
        _l("How the identity was verified"),
        validators=[DataRequired(_l("Say how you verified the identity.")), Length(max=NOTE_MAX)],
    )


class ExtendForm(PanelForm):
    PREFIX = "extend"
    months = SelectField(
        _l("Extend by"),
        choices=[SelectChoice("1", _l("1 month")), SelectChoice("2", _l("2 months"))],
    )
    reason = TextAreaField(
        _l("Reason for the extension"),
        validators=[DataRequired(_l("Give the reason; the person is told it.")), Length(max=NOTE_MAX)],
        description=_l("The person is told this reason (Art. 12(3))."),
    )


class RefuseForm(PanelForm):
    PREFIX = "refuse"
    ground = SelectField(_l("Ground of the refusal"), choices=_options(GROUNDS, GROUND_NAMES))
    reason = TextAreaField(
        _l("Reasons for the person"),
        validators=[Optional(), Length(max=NOTE_MAX)],
        description=_l("The person is told these reasons; not needed for an identity that was not verified."),
    )
    confirm = BooleanField(
        _l("Close this request as refused and tell the person"),
        validators=[DataRequired(_l("Confirm the refusal: it closes the request and cannot be undone."))],
    )


class RunForm(PanelForm):
    PREFIX = "run"


class NewCodeForm(PanelForm):
    PREFIX = "code"


class TaskForm(PanelForm):
    """A manual task's form; its prefix is the task's id."""

    note = TextAreaField(
        _l("What was done"),
        validators=[DataRequired(_l("Say what was done in the store.")), Length(max=5000)],
    )


# What the service says of a request (English), as the page says it in the reader's language;
# anything else is shown as the service wrote it.
PROBLEMS = {
    "required": _l("This is required."),
    "a request cannot be received in the future": _l("The day cannot be in the future."),
    "give at least one identity": _l("Give at least one identity of the person."),
    "a DPO verification needs a note": _l("Say how you verified the identity."),
    "e-mail verification needs an email identity": _l(
        "Give an e-mail address for the code, or verify the identity yourself."
    ),
    "name the purposes objected to": _l("Name the purposes objected to."),
    "give the corrected values": _l("Give the corrected values."),
    "the original deadline has passed; it can no longer be extended": _l(
        "The deadline can be extended only within the first month; that month has passed."
    ),
    "1 or 2": _l("1 or 2 months."),
}


def problem_text(message: str) -> Any:
    return PROBLEMS.get(message, message)


def service_errors(
    form: FlaskForm, errors: Mapping[str, Any] | None, fields: Mapping[str, Field]
) -> list[Any]:
    """Put the service's field errors on the form's fields (``fields``: a service name whose field
    has another name; else the field of the same name); returns the messages no field takes."""
    left: list[Any] = []
    for name, messages in (errors or {}).items():
        texts = [
            problem_text(str(m)) for m in (messages if isinstance(messages, list | tuple) else [messages])
        ]
        target = fields.get(name) or getattr(form, name, None)
        if target is None:
            left.extend(texts)
        else:
            target.errors = list(target.errors) + texts
    return left
