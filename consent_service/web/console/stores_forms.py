"""The forms of the console's store pages (Flask-WTF: each carries the session's CSRF token)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from consent_service.stores.spec import KEY_RE

KEY_HELP = _l("1 to 64 of a-z, 0-9, '_', '.', '-'; it cannot be changed later.")
KEY_RULE = Regexp(KEY_RE.pattern, message=_l("Use 1 to 64 of a-z, 0-9, '_', '.', '-'."))


class StoreTextForm(FlaskForm):
    """A store description as JSON text (the body ``PUT /v1/stores/<key>`` takes)."""

    text = TextAreaField(
        _l("Description (JSON)"),
        validators=[DataRequired(_l("Enter the store's description.")), Length(max=200_000)],
        description=_l(
            "Type, description, connection and collections. Secrets are never shown: *** keeps the "
            "stored secret. A secret you type is not shown again after an error: type it again."
        ),
    )


class NewStoreForm(StoreTextForm):
    key = StringField(
        _l("Key"), validators=[DataRequired(_l("Enter the store's key.")), KEY_RULE], description=KEY_HELP
    )


class StoreTestForm(FlaskForm):
    pass


STORE_TYPE_NAMES = {
    "sql": _l("SQL database"),
    "redis": _l("Redis"),
    "http": _l("HTTP service"),
    "manual": _l("Manual (done by a person)"),
}
