"""The forms of the console's retention pages: rules, legal holds and runs.

Each form knows how to become the document ``retention.service`` takes (the same as the API's
bodies) and which of its fields a problem path of the service belongs to (``FIELD_OF``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, Field, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from consent_service.durations import PATTERN as DURATION_PATTERN
from consent_service.retention.rules import ACTIONS, TRIGGERS
from consent_service.web.console.stores_forms import KEY_HELP, KEY_RULE

TRIGGER_NAMES = {
    "since_field": _l("a date field of the record"),
    "last_activity": _l("the last activity (a date field)"),
    "contract_end": _l("the end of the contract (a date field)"),
    "consent_ended": _l("the end of consent (withdrawn, refused or expired)"),
}
TRIGGER_SHORT = {  # as a rule's period reads in a list: "P1Y from the last activity (last_login)"
    "since_field": _l("the record's date"),
    "last_activity": _l("the last activity"),
    "contract_end": _l("the end of the contract"),
    "consent_ended": _l("the end of consent"),
}
ACTION_NAMES = {
    "delete": _l("delete the record"),
    "anonymise": _l("anonymise the fields"),
    "crypto_shred": _l("make unreadable (destroy the person's key)"),
}
CONFIRM = _l("Confirm that you want to do this.")


class RuleForm(FlaskForm):
    key = StringField(
        _l("Key"), validators=[DataRequired(_l("Enter the rule's key.")), KEY_RULE], description=KEY_HELP
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])
    purpose = StringField(
        _l("Purpose"), validators=[Optional()], description=_l("The key of a registered purpose.")
    )
    category = StringField(
        _l("Data category"),
        validators=[Optional()],
        description=_l("For example user.contact (covers user.contact.email)."),
    )
    store = SelectField(_l("Store"), validators=[Optional()], choices=[])
    collection = StringField(_l("Collection"), validators=[Optional()], description=_l("Only with a store."))
    period = StringField(
        _l("Retention period"),
        validators=[
            DataRequired(_l("Enter the retention period.")),
            Regexp(DURATION_PATTERN, message=_l("Use an ISO 8601 duration such as P2Y, P6M or P30D.")),
        ],
        description=_l("ISO 8601: P2Y is two years, P6M six months, P30D thirty days."),
    )
    trigger_type = SelectField(
        _l("The period runs from"),
        choices=[SelectChoice(t, TRIGGER_NAMES[t]) for t in TRIGGERS],
        validators=[InputRequired()],
    )
    trigger_field = StringField(
        _l("Date field"),
        validators=[Optional()],
        description=_l("The record's field with the date, e.g. last_login."),
    )
    trigger_purpose = StringField(
        _l("Purpose whose consent ended"),
        validators=[Optional()],
        description=_l("Only for the end of consent; empty: the purpose above."),
    )
    action = SelectField(
        _l("Then"), choices=[SelectChoice(a, ACTION_NAMES[a]) for a in ACTIONS], validators=[InputRequired()]
    )

    FIELD_OF = {
        "key": "key",
        "description": "description",
        "applies_to": "purpose",
        "applies_to.purpose": "purpose",
        "applies_to.category": "category",
        "applies_to.store": "store",
        "applies_to.collection": "collection",
        "period": "period",
        "trigger.type": "trigger_type",
        "trigger.field": "trigger_field",
        "trigger.purpose": "trigger_purpose",
        "action": "action",
    }

    def document(self) -> dict[str, Any]:
        trigger = {"type": self.trigger_type.data, "field": self.trigger_field.data or None}
        trigger["purpose"] = self.trigger_purpose.data or None
        return {
            "description": self.description.data or "",
            "applies_to": {
                name: value
                for name in ("purpose", "category", "store", "collection")
                if (value := (getattr(self, name).data or "").strip())
            },
            "period": (self.period.data or "").strip(),
            "trigger": {k: v for k, v in trigger.items() if v},
            "action": self.action.data,
        }

    def fill(self, rule: dict[str, Any]) -> None:
        """Show a rule's current version in the form."""
        self.key.data, self.description.data, self.period.data = (
            rule["key"],
            rule["description"],
            rule["period"],
        )
        for name in ("purpose", "category", "store", "collection"):
            getattr(self, name).data = rule["applies_to"].get(name, "")
        self.trigger_type.data = rule["trigger"]["type"]
        self.trigger_field.data = rule["trigger"].get("field", "")
        self.trigger_purpose.data = rule["trigger"].get("purpose", "")
        self.action.data = rule["action"]


class HoldForm(FlaskForm):
    key = StringField(
        _l("Key"), validators=[DataRequired(_l("Enter the hold's key.")), KEY_RULE], description=KEY_HELP
    )
    subject = StringField(
        _l("Subject"), validators=[Optional()], description=_l("The subject's id; or name a store instead.")
    )
    store = SelectField(_l("Store"), validators=[Optional()], choices=[])
    collection = StringField(_l("Collection"), validators=[Optional()], description=_l("Only with a store."))
    purpose = StringField(
        _l("Purpose the data is kept for"),
        validators=[Optional()],
        description=_l(
            "Optional: a registered purpose that does not rest on consent, e.g. a legal obligation."
        ),
    )
    reason = TextAreaField(
        _l("Reason"),
        validators=[DataRequired(_l("Say why the data must be kept.")), Length(max=2000)],
        description=_l("For a store or collection, name a case, not a person."),
    )
    ends_on = DateField(
        _l("Ends on"),
        validators=[Optional()],
        description=_l("Optional: the hold is lifted at the start of this day. Empty: until it is released."),
    )

    FIELD_OF = {
        "key": "key",
        "scope": "subject",
        "scope.subject": "subject",
        "scope.store": "store",
        "scope.collection": "collection",
        "purpose": "purpose",
        "reason": "reason",
        "ends_at": "ends_on",
    }

    def document(self, zone: ZoneInfo) -> dict[str, Any]:
        scope = {name: getattr(self, name).data or None for name in ("subject", "store", "collection")}
        ends_at = None
        if self.ends_on.data:
            ends_at = dt.datetime.combine(self.ends_on.data, dt.time(), tzinfo=zone)
        return {
            "scope": {k: v for k, v in scope.items() if v},
            "reason": (self.reason.data or "").strip(),
            "purpose": self.purpose.data or None,
            "ends_at": ends_at,
        }


class ReleaseForm(FlaskForm):
    reason = TextAreaField(
        _l("Why does the hold end?"),
        validators=[DataRequired(_l("Say why the hold ends.")), Length(max=2000)],
    )
    confirm = BooleanField(
        _l("Yes: release the hold; its data falls under retention and erasure again."),
        validators=[DataRequired(CONFIRM)],
    )


class RetireForm(FlaskForm):
    confirm = BooleanField(
        _l("Yes: stop applying this rule (its versions are kept; saving it again reactivates it)."),
        validators=[DataRequired(CONFIRM)],
    )


class RunForm(FlaskForm):
    store = SelectField(
        _l("Stores"),
        validators=[Optional()],
        choices=[],
        description=_l("One store only leaves out the service's own data."),
    )


class RealRunForm(RunForm):
    confirm = BooleanField(
        _l("Yes: delete, anonymise or make unreadable now whatever the rules make due."),
        validators=[DataRequired(CONFIRM)],
    )


def store_choices(stores: list[dict[str, Any]], empty: Any) -> list[SelectChoice]:
    return [SelectChoice("", empty)] + [SelectChoice(s["key"], s["key"]) for s in stores]


def map_errors(form: FlaskForm, errors: dict[str, Any], fallback: Field) -> None:
    """Put the service's problems ({path: [message]}) on the form's fields."""
    field_of: dict[str, str] = getattr(form, "FIELD_OF", {})
    for path, messages in errors.items():
        name = field_of.get(path) or field_of.get(path.split(".")[0])
        target = getattr(form, name) if name else fallback
        listed = messages if isinstance(messages, list | tuple) else [messages]
        target.errors = [*target.errors, *(str(m) for m in listed)]
