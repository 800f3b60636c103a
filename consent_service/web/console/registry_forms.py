"""The registry's forms (Flask-WTF, each with the session's CSRF token) and the words the pages
use for the registry's keys: legal bases, recipient events, transfer safeguards.

The forms check only what a person can fix before the service is asked (required fields, lengths,
the shape of a key); every registry rule is the service's, and its InvalidInput errors are shown
next to the fields (``registry.show_errors``).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    ColorField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp

from consent_service.dsar.recipients import EVENTS
from consent_service.dsar.transfers import SAFEGUARDS
from consent_service.registry.banner_settings import CONSENT_TYPES
from consent_service.registry.service import COOKIE_NAME
from consent_service.registry.taxonomy import LEGAL_BASES
from consent_service.stores.spec import KEY_RE
from consent_service.web.console.forms import TYPE_NAMES

LEGAL_BASIS_NAMES = {
    "consent": _l("consent"),
    "contract": _l("performance of a contract"),
    "legal_obligation": _l("legal obligation"),
    "vital_interests": _l("vital interests"),
    "public_task": _l("public task"),
    "legitimate_interests": _l("legitimate interest"),
}
# the requests that tell recipients, and changes of consent (sent in batches from the ledger)
EVENT_NAMES = {event: TYPE_NAMES[event] for event in EVENTS if event != "consent"} | {
    "consent": _l("consent changes")
}
SAFEGUARD_NAMES = {
    "adequacy_decision": _l("adequacy decision (Art. 45)"),
    "standard_contractual_clauses": _l("standard contractual clauses (Art. 46)"),
    "binding_corporate_rules": _l("binding corporate rules (Art. 47)"),
    "derogation_art49": _l("derogation for a specific situation (Art. 49)"),
}


def key_field() -> StringField:
    """A registry key, as the API's paths take it; it names the entry for good."""
    return StringField(
        _l("Key"),
        validators=[
            DataRequired(_l("Enter a key.")),
            Regexp(KEY_RE.pattern, message=_l("Use 1 to 64 of a-z, 0-9, '_', '.', '-'.")),
        ],
        description=_l("1 to 64 of a-z, 0-9, '_', '.', '-'; it cannot be changed later."),
    )


class MultiCheckboxField(SelectMultipleField):
    """Checkboxes for a few choices (the template lays them out in a fieldset)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class PurposeForm(FlaskForm):
    key = key_field()
    title_en = StringField(
        _l("Title (English)"), validators=[DataRequired(_l("Enter a title.")), Length(max=300)]
    )
    title_de = StringField(
        _l("Title (German)"), validators=[DataRequired(_l("Enter a title.")), Length(max=300)]
    )
    description_en = TextAreaField(
        _l("Description (English)"), validators=[DataRequired(_l("Enter a description.")), Length(max=5000)]
    )
    description_de = TextAreaField(
        _l("Description (German)"), validators=[DataRequired(_l("Enter a description.")), Length(max=5000)]
    )
    legal_basis = SelectField(
        _l("Legal basis"), choices=[SelectChoice(basis, LEGAL_BASIS_NAMES[basis]) for basis in LEGAL_BASES]
    )
    data_categories = TextAreaField(
        _l("Data categories"),
        description=_l("Keys of the fideslang taxonomy, one per line, e.g. user.contact.email."),
    )
    data_uses = TextAreaField(
        _l("Data uses"),
        validators=[DataRequired(_l("Enter at least one data use."))],
        description=_l("Keys of the fideslang taxonomy, one per line, e.g. marketing.advertising."),
    )
    consent_validity = StringField(
        _l("Consent valid for"),
        default="P12M",
        description=_l("An ISO 8601 duration, at most P13M (13 months)."),
    )
    retention_period = StringField(
        _l("Retention period"), description=_l("Optional; an ISO 8601 duration such as P2Y.")
    )
    direct_marketing = BooleanField(_l("Direct marketing (an objection always stops it, Art. 21(3))"))
    honor_gpc = BooleanField(_l("Treat a Global Privacy Control signal as a refusal"))
    double_opt_in = BooleanField(_l("An e-mail address confirms its consent by a link (double opt-in)"))
    strictly_necessary = BooleanField(
        _l("Strictly necessary (always on in the banner, no choice: ePrivacy Art. 5(3), TDDDG §25(2))")
    )
    logic_en = TextAreaField(_l("Logic of automated decisions (English)"), validators=[Length(max=5000)])
    logic_de = TextAreaField(_l("Logic of automated decisions (German)"), validators=[Length(max=5000)])
    consequences_en = TextAreaField(
        _l("Consequences for the person (English)"), validators=[Length(max=5000)]
    )
    consequences_de = TextAreaField(_l("Consequences for the person (German)"), validators=[Length(max=5000)])


class DiffForm(FlaskForm):
    """Which two versions to compare: a GET form (version numbers only)."""

    class Meta:
        csrf = False

    a = SelectField(_l("Version a"), coerce=int)
    b = SelectField(_l("Version b"), coerce=int)


class CookieForm(FlaskForm):
    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Enter the cookie's name.")),
            Regexp(f"^{COOKIE_NAME}$", message=_l("Letters, digits and !#$%&'*+-.^_`|~ only, at most 128.")),
        ],
        description=_l("As the browser stores it; it cannot be changed later."),
    )
    domain = StringField(
        _l("Domain"),
        validators=[DataRequired(_l("Enter the domain.")), Length(max=255)],
        description=_l("e.g. .example.org"),
    )
    provider = StringField(
        _l("Provider"), validators=[DataRequired(_l("Enter the provider.")), Length(max=255)]
    )
    duration = StringField(
        _l("Duration"),
        validators=[DataRequired(_l("Enter the duration."))],
        description=_l("An ISO 8601 duration such as P1Y or P30D, or “session”."),
    )
    purpose = SelectField(_l("Purpose"), validators=[DataRequired(_l("Choose the purpose."))])
    path = StringField(
        _l("Path"),
        default="/",
        validators=[Optional(), Length(max=255)],
        description=_l("Where the cookie is set; the banner deletes it there when consent is withdrawn."),
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=5000)])
    text_en = TextAreaField(_l("Banner text (English)"), validators=[Optional(), Length(max=5000)])
    text_de = TextAreaField(_l("Banner text (German)"), validators=[Optional(), Length(max=5000)])


class SiteForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter the site's name.")), Length(max=200)])
    origins = TextAreaField(
        _l("Allowed origins"),
        validators=[DataRequired(_l("Enter at least one origin."))],
        description=_l("Where the banner runs, one per line, e.g. https://www.example.org."),
    )
    purposes = MultiCheckboxField(_l("Purposes the banner offers"))
    cookies = MultiCheckboxField(_l("Cookies the banner lists"))
    # The banner's settings (registry.banner_settings); its texts are set through the API or CLI.
    languages = MultiCheckboxField(_l("Languages of the banner"))
    language_default = SelectField(
        _l("Default language"),
        description=_l("Shown when the page's language is not among the banner's; always offered."),
    )
    link_privacy = StringField(
        _l("Privacy policy link"),
        validators=[Optional(), Length(max=2000)],
        description=_l("An https:// address or a path such as /privacy."),
    )
    link_imprint = StringField(_l("Imprint link"), validators=[Optional(), Length(max=2000)])
    theme_background = ColorField(_l("Background colour"), description=_l("For example #ffffff."))
    theme_text = ColorField(
        _l("Text colour"), description=_l("It needs a contrast of 4.5:1 on the background.")
    )
    theme_accent = ColorField(
        _l("Accent colour"), description=_l("Of the buttons; white text on it needs a contrast of 4.5:1.")
    )
    floating_button = BooleanField(_l("Show a button that reopens the settings"))
    reask_after = StringField(
        _l("Ask again after"),
        validators=[DataRequired(_l("Enter a period such as P12M."))],
        description=_l("An ISO 8601 period such as P12M; at most P13M."),
    )
    refusal_reask = StringField(
        _l("After a refusal, ask again after"),
        validators=[DataRequired(_l("Enter a period such as P6M."))],
        description=_l("Until then a refused purpose is asked only when the person opens the settings."),
    )
    cm_enabled = BooleanField(_l("Send Google Consent Mode signals"))
    cm_mode = SelectField(
        _l("Mode"),
        choices=[
            SelectChoice("basic", _l("Basic: Google tags load only after consent")),
            SelectChoice("advanced", _l("Advanced: Google tags load at once, with every type denied")),
        ],
    )
    cm_ads_data_redaction = BooleanField(_l("Redact ads data while ad storage is denied"))
    cm_url_passthrough = BooleanField(_l("Pass ad click information through URLs"))
    cm_regions = TextAreaField(
        _l("Regions"),
        description=_l("ISO 3166 codes such as DE or ES-CT, one per line; empty: everywhere."),
    )
    cm_wait_for_update = IntegerField(
        _l("Wait for an update (milliseconds)"),
        validators=[InputRequired(_l("Enter a number of milliseconds from 0 to 10000."))],
    )


# One choice of purposes per Consent Mode type: the type is granted when each chosen purpose is.
for _consent_type in CONSENT_TYPES:
    setattr(
        SiteForm,
        f"cm_{_consent_type}",
        SelectMultipleField(
            _consent_type,
            description=_l("Granted when each chosen purpose is; the banner must offer them."),
        ),
    )


class RecipientForm(FlaskForm):
    key = key_field()
    name = StringField(
        _l("Name"), validators=[DataRequired(_l("Enter the recipient's name.")), Length(max=200)]
    )
    endpoint = StringField(
        _l("Webhook address"),
        validators=[DataRequired(_l("Enter the webhook address.")), Length(max=500)],
        description=_l("An https:// address that is told of each change."),
    )
    secret = PasswordField(
        _l("Shared secret"),
        description=_l("At least 16 characters; it signs the webhooks and is never shown again."),
    )
    events = MultiCheckboxField(
        _l("Events it is told of"),
        choices=[SelectChoice(event, EVENT_NAMES[event]) for event in EVENTS],
        validators=[DataRequired(_l("Choose at least one event."))],
    )
    country = SelectField(_l("Country"), description=_l("Where the recipient processes the data."))
    safeguard = SelectField(
        _l("Safeguard of the transfer"),
        choices=[SelectChoice("", _l("none (inside the EEA)"))]
        + [SelectChoice(s, SAFEGUARD_NAMES[s]) for s in SAFEGUARDS],
        description=_l("Required for a country outside the EEA."),
    )
