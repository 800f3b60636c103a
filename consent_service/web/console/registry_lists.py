"""Cookies, sites and recipients in the console: a list of each, a form to add one and to change it.

The forms call what the API and the command line call: ``registry.service.save_cookie``
(``PUT /v1/cookies/<name>``), ``registry.sites.register_site`` / ``change_site_offer`` (sites:
their allowed origins, the purposes and cookies their banner offers and its settings, see
``registry_banner``) and
``dsar.recipients.save_recipient`` (``PUT /v1/recipients/<key>``; a recipient's secret is never
shown, an empty field keeps the stored one).
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from consent_service.dsar import recipients, transfers
from consent_service.errors import Conflict, InvalidInput, NotFound
from consent_service.registry import service as registry
from consent_service.registry import sites as site_registry
from consent_service.registry.banner_settings import CONSENT_TYPES
from consent_service.stores.secrets import HIDDEN
from consent_service.web.console import blueprint
from consent_service.web.console.guard import context, requires
from consent_service.web.console.registry import (
    WRITE,
    form_texts,
    lines,
    not_found,
    page,
    recorded,
    show_errors,
    when,
)
from consent_service.web.console.registry_banner import BANNER_FIELDS, banner_choices, banner_data, banner_doc
from consent_service.web.console.registry_forms import (
    EVENT_NAMES,
    SAFEGUARD_NAMES,
    CookieForm,
    RecipientForm,
    SiteForm,
)
from consent_service.web.i18n import language

EXISTS = "exists"

# Cookies ----------------------------------------------------------------------------------------


@blueprint.route("/registry/cookies")
@requires("read")
def cookies() -> ResponseReturnValue:
    rows = [c | {"updated": when(c["updated_at"])} for c in registry.read_cookies(context())]
    return page("cookies.html", "cookies", rows=rows, has_purposes=bool(registry.read_purposes(context())))


def _purpose_label(purpose: dict[str, Any]) -> str:
    titles = purpose["titles"]
    return f"{titles.get(language()) or titles.get('en', '')} ({purpose['key']})"


def _purpose_choices(form: CookieForm) -> None:
    form.purpose.choices = [SelectChoice("", _("Choose a purpose"))] + [
        SelectChoice(p["key"], _purpose_label(p)) for p in registry.read_purposes(context())
    ]


@blueprint.route("/registry/cookies/new", methods=["GET", "POST"])
@requires(WRITE)
def cookie_new() -> ResponseReturnValue:
    form = CookieForm()
    _purpose_choices(form)
    return _save_cookie(form, None) if form.is_submitted() else page("cookie_form.html", "cookies", form=form)


@blueprint.route("/registry/cookie/<cookie:name>/edit", methods=["GET", "POST"])
@requires(WRITE)
def cookie_edit(name: str) -> ResponseReturnValue:
    try:
        current = registry.read_cookie(context(), name)
    except NotFound:
        return not_found()
    texts = current["descriptions"] or {}
    data = {**current, "text_en": texts.get("en", ""), "text_de": texts.get("de", "")}
    form = CookieForm() if request.method == "POST" else CookieForm(data=data)
    del form.name  # a cookie's name never changes
    _purpose_choices(form)
    if form.is_submitted():
        return _save_cookie(form, current)
    return page("cookie_form.html", "cookies", form=form, cookie=current)


def _save_cookie(form: CookieForm, current: dict[str, Any] | None) -> ResponseReturnValue:
    if form.validate():
        name = current["name"] if current else form.name.data
        texts = form_texts(form, "text", (current or {}).get("descriptions") or {})
        spec = {
            "domain": form.domain.data.strip(),
            "provider": form.provider.data.strip(),
            "duration": form.duration.data.strip(),
            "purpose": form.purpose.data,
            "description": (form.description.data or "").strip() or None,
            "descriptions": texts or None,
            "path": (form.path.data or "").strip() or "/",
        }
        try:
            registry.save_cookie(context(), name, spec, must_be_new=current is None, record=recorded())
        except (InvalidInput, NotFound) as exc:  # NotFound: UnknownReference, a purpose gone meanwhile
            show_errors(form, exc, {"": "domain"})
        except Conflict:
            form.name.errors = [_("A cookie with this name is already registered; edit that one instead.")]
        else:
            return redirect(url_for("console.cookies"))
    return page("cookie_form.html", "cookies", 422, form=form, cookie=current)


# Sites ------------------------------------------------------------------------------------------


@blueprint.route("/registry/sites")
@requires("read")
def sites() -> ResponseReturnValue:
    rows = [s | {"created": when(s["created_at"])} for s in site_registry.read_sites(context())]
    return page("sites.html", "sites", rows=rows)


def _offer_choices(form: SiteForm) -> None:
    ctx = context()
    form.purposes.choices = [SelectChoice(p["key"], _purpose_label(p)) for p in registry.read_purposes(ctx)]
    form.cookies.choices = [
        SelectChoice(c["name"], f"{c['name']} ({c['domain']})") for c in registry.read_cookies(ctx)
    ]
    banner_choices(form, list(form.purposes.choices))


@blueprint.route("/registry/sites/new", methods=["GET", "POST"])
@requires(WRITE)
def site_new() -> ResponseReturnValue:
    form = SiteForm() if request.method == "POST" else SiteForm(data=banner_data(None))
    _offer_choices(form)
    return _save_site(form, None) if form.is_submitted() else _site_page(form, None)


@blueprint.route("/registry/site/<site_id>/edit", methods=["GET", "POST"])
@requires(WRITE)
def site_edit(site_id: str) -> ResponseReturnValue:
    try:
        current = site_registry.read_site(context(), site_id)
    except NotFound:
        return not_found()
    data = current | {"origins": "\n".join(current["allowed_origins"])} | banner_data(current["banner"])
    form = SiteForm() if request.method == "POST" else SiteForm(data=data)
    _offer_choices(form)
    if form.is_submitted():
        return _save_site(form, current)
    return _site_page(form, current)


def _save_site(form: SiteForm, current: dict[str, Any] | None) -> ResponseReturnValue:
    if form.validate():
        offer = {
            "name": form.name.data,
            "origins": lines(form.origins.data),
            "purposes": list(form.purposes.data or []),
            "cookies": list(form.cookies.data or []),
            "banner": banner_doc(form, current["banner"] if current else None),
        }
        try:
            if current is None:
                site_registry.register_site(context(), **offer, record=recorded())
            else:
                site_registry.change_site_offer(context(), current["id"], **offer, record=recorded())
        except (InvalidInput, NotFound) as exc:  # NotFound: a purpose or cookie gone meanwhile
            show_errors(form, exc, {**BANNER_FIELDS, "": "name"})
        else:
            return redirect(url_for("console.sites"))
    return _site_page(form, current, 422)


def _site_page(form: SiteForm, current: dict[str, Any] | None, status: int = 200) -> ResponseReturnValue:
    return page("site_form.html", "sites", status, form=form, site=current, consent_types=CONSENT_TYPES)


# Recipients -------------------------------------------------------------------------------------


def _recipient_row(recipient: dict[str, Any]) -> dict[str, Any]:
    country = recipient["country"]
    return recipient | {
        "event_names": [str(EVENT_NAMES.get(e, e)) for e in recipient["events"]],
        "country_name": transfers.country_name(country, language()) if country else "",
        "safeguard_name": str(SAFEGUARD_NAMES.get(recipient["safeguard"], recipient["safeguard"] or "")),
        "updated": when(recipient["updated_at"]),
    }


@blueprint.route("/registry/recipients", endpoint="recipients")
@requires("read")
def recipients_list() -> ResponseReturnValue:
    rows = [_recipient_row(r) for r in recipients.list_recipients(context())]
    return page("recipients.html", "recipients", rows=rows)


def _country_choices(form: RecipientForm) -> None:
    lang = language()
    named = sorted(((transfers.country_name(c, lang), c) for c in transfers.countries()), key=lambda n: n[0])
    form.country.choices = [SelectChoice("", _("not recorded"))] + [
        SelectChoice(code, f"{name} ({code})") for name, code in named
    ]


@blueprint.route("/registry/recipients/new", methods=["GET", "POST"])
@requires(WRITE)
def recipient_new() -> ResponseReturnValue:
    form = RecipientForm()
    _country_choices(form)
    return (
        _save_recipient(form, None)
        if form.is_submitted()
        else page("recipient_form.html", "recipients", form=form)
    )


@blueprint.route("/registry/recipient/<key:key>/edit", methods=["GET", "POST"])
@requires(WRITE)
def recipient_edit(key: str) -> ResponseReturnValue:
    try:
        current = recipients.get_recipient(context(), key)
    except NotFound:
        return not_found()
    data = current | {"country": current["country"] or "", "safeguard": current["safeguard"] or ""}
    form = RecipientForm() if request.method == "POST" else RecipientForm(data=data)
    del form.key  # a recipient's key never changes
    form.secret.description = _(
        "Leave it empty to keep the stored secret, or enter a new one (at least 16 characters)."
    )
    _country_choices(form)
    if form.is_submitted():
        return _save_recipient(form, current)
    return page("recipient_form.html", "recipients", form=form, recipient=current)


def _save_recipient(form: RecipientForm, current: dict[str, Any] | None) -> ResponseReturnValue:
    if form.validate():
        key = current["key"] if current else form.key.data
        doc = {
            "name": form.name.data,
            "endpoint": form.endpoint.data.strip(),
            "secret": form.secret.data or (HIDDEN if current else ""),
            "events": list(form.events.data or []),
            "country": form.country.data or None,
            "safeguard": form.safeguard.data or None,
        }
        try:
            recipients.save_recipient(context(), key, doc, must_be_new=current is None, record=recorded())
        except (InvalidInput, NotFound) as exc:
            show_errors(form, exc, {"": "name"})
        except Conflict:
            form.key.errors = [_("A recipient with this key is already registered; edit that one instead.")]
        else:
            return redirect(url_for("console.recipients"))
    return page("recipient_form.html", "recipients", 422, form=form, recipient=current)
