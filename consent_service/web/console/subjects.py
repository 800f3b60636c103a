"""Subjects: look a person up and see what the ledger holds on their consent.

The lookup is a POSTed form (an e-mail address or customer id never appears in an address); one
match leads to the subject's page, none says so. The page shows the gate's answer per purpose
(the function behind ``POST /v1/decisions``), the latest decision per cookie, the events newest
first with the notice the person saw, and the receipts. ``staff.subject_access`` writes every
lookup and view to the audit log with the signed-in account.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from consent_service.crypto.envelope import ERASED
from consent_service.dsar.verified import masked
from consent_service.errors import UnknownSubject
from consent_service.ledger.queries import PROOF_EXPIRED
from consent_service.staff import subject_access
from consent_service.subjects.service import IDENTITY_TYPES, IdentityRef
from consent_service.web.console import blueprint
from consent_service.web.console.guard import context, current_user, requires
from consent_service.web.i18n import language

HISTORY_SHOWN = 50  # newest events on the page; the proof of a purpose lists all of its events

KINDS = {
    "email": _l("E-mail address"),
    "customer_id": _l("Customer id"),
    "phone": _l("Phone number"),
    "device_id": _l("Device id"),
    "subject_id": _l("Subject id"),
}
REASONS = {
    "consent_granted": _l("consent given"),
    "consent_denied": _l("consent refused"),
    "consent_withdrawn": _l("consent withdrawn"),
    "confirmation_pending": _l("waiting for the person's confirmation (double opt-in)"),
    "no_consent": _l("no consent recorded"),
    "consent_expired": _l("consent expired"),
    "consent_outdated": _l("consent given to an earlier version of the purpose"),
    "legal_basis": _l("allowed on another legal basis"),
    "erased": _l("the person's data was erased"),
    "restricted": _l("processing restricted"),
    "objected": _l("the person objected"),
    "held": _l("kept only under a legal hold"),
    "state_unverified": _l("the stored state does not match the ledger"),
}
DECISIONS = {
    "granted": _l("given"),
    "denied": _l("refused"),
    "withdrawn": _l("withdrawn"),
    "pending": _l("pending confirmation"),
}
METHODS = {
    "accept_all": _l("accepted all"),
    "reject_all": _l("rejected all"),
    "custom": _l("chose individually"),
    "gpc": _l("Global Privacy Control signal"),
    "api": _l("through the API"),
}
CHANNELS = {
    "banner": _l("cookie banner"),
    "web_form": _l("web form"),
    "crm": _l("CRM"),
    "api": _l("API"),
    "import": _l("import"),
    "email": _l("e-mail"),
    "app": _l("app"),
    "phone": _l("phone"),
    "paper": _l("paper"),
}
LEGAL_BASES = {
    "consent": _l("consent"),
    "contract": _l("performance of a contract"),
    "legal_obligation": _l("legal obligation"),
    "vital_interests": _l("vital interests"),
    "public_task": _l("public task"),
    "legitimate_interests": _l("legitimate interest"),
}
PROOF_FIELDS = {
    "ip": _l("IP address (shortened)"),
    "user_agent": _l("Browser"),
    "url": _l("Page"),
    "gpc": _l("Global Privacy Control"),
    "tc_string": _l("TCF consent string"),
    "gpp_string": _l("GPP string"),
}
EVENT_KINDS = {"consent": _l("consent decision"), "linked": _l("linked to another subject")}


class LookupForm(FlaskForm):
    kind = SelectField(
        _l("Search by"),
        choices=[
            SelectChoice(k, KINDS[k]) for k in ("email", "customer_id", "phone", "device_id", "subject_id")
        ],
        default="email",
    )
    value = StringField(
        _l("Value"),
        validators=[DataRequired(_l("Enter what to search for.")), Length(max=320)],
        description=_l("The whole value: an e-mail address, a customer id, … or a subject id (sub_…)."),
    )


def labels() -> dict[str, Any]:
    """The names the subject and proof templates show for the service's codes."""
    return {
        "reasons": REASONS,
        "decisions": DECISIONS,
        "methods": METHODS,
        "channels": CHANNELS,
        "legal_bases": LEGAL_BASES,
        "proof_fields": PROOF_FIELDS,
        "event_kinds": EVENT_KINDS,
        "kinds": KINDS,
        "proof_expired": PROOF_EXPIRED,
        "proof_erased": ERASED,
    }


def masked_identities(identities: list[dict[str, str]]) -> list[dict[str, Any]]:
    """Identities as the pages show them: masked, or marked as erased (crypto-shredded)."""
    return [
        {"type": i["type"], "value": None if i["value"] == ERASED else masked(i["value"])} for i in identities
    ]


def actor() -> str:
    user = current_user()
    assert user is not None, "requires() let only a signed-in account through"
    return str(user["id"])


@blueprint.route("/subjects", methods=["GET", "POST"])
@requires("read")
def subjects() -> ResponseReturnValue:
    form = LookupForm()
    not_found = None
    status = 200
    if form.is_submitted():
        if form.validate():
            kind, value = form.kind.data, form.value.data.strip()
            if kind == "subject_id":
                found = subject_access.look_up(context(), actor=actor(), subject_id=value)
            else:
                assert kind in IDENTITY_TYPES
                found = subject_access.look_up(context(), actor=actor(), ref=IdentityRef(kind, value))
            if found is not None:
                return redirect(url_for("console.subject", subject_id=found))
            not_found = KINDS[kind]
        else:
            status = 422
    return render_template(
        "console/subjects/lookup.html", form=form, not_found=not_found, section="subjects"
    ), status


@blueprint.route("/subjects/<subject_id>")
@requires("read")
def subject(subject_id: str) -> ResponseReturnValue:
    try:
        record = subject_access.view_subject(
            context(), actor=actor(), subject_id=subject_id, language=language()
        )
    except UnknownSubject:
        return render_template("console/error.html", kind="not_found"), 404
    events = list(reversed(record["events"]))
    consented = sorted({e["purpose_key"] for e in events if e["kind"] == "consent" and e["purpose_key"]})
    return render_template(
        "console/subjects/subject.html",
        record=record,
        identities=masked_identities(record["identities"]),
        events=events[:HISTORY_SHOWN],
        total=len(events),
        capped=len(events) > HISTORY_SHOWN,
        proof_purposes=consented,
        section="subjects",
        **labels(),
    )
