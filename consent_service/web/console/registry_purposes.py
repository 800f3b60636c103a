"""Purposes in the console: the list, a purpose with its versions, the create and edit forms and
the side-by-side comparison of two versions.

Saving calls ``registry.service.save_purpose`` (the function behind ``PUT /v1/purposes/<key>``):
a change of the texts, legal basis, data categories, data uses or automated decisions makes a
new version and keeps the earlier ones; other settings change the purpose in place. The form
holds English and German; texts in other languages (from the API) are kept as they are.
"""

from __future__ import annotations

from typing import Any

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from consent_service.errors import Conflict, InvalidInput, UnknownPurpose
from consent_service.registry import service as registry
from consent_service.registry import taxonomy
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
from consent_service.web.console.registry_diff import compare
from consent_service.web.console.registry_forms import LEGAL_BASIS_NAMES, DiffForm, PurposeForm
from consent_service.web.i18n import language

# the service's field names → the form's
PURPOSE_FIELDS = {
    "titles": "title_en",
    "descriptions": "description_en",
    "automated_decisions": "logic_en",
    "": "title_en",
}


def basis_name(basis: str) -> str:
    return str(LEGAL_BASIS_NAMES.get(basis, basis))


def _in_language(texts: dict[str, str]) -> str:
    return texts.get(language()) or texts.get("en") or next(iter(texts.values()), "")


def _row(purpose: dict[str, Any]) -> dict[str, Any]:
    return purpose | {
        "title": _in_language(purpose["titles"]),
        "basis": basis_name(purpose["legal_basis"]),
        "updated": when(purpose["updated_at"]),
    }


@blueprint.route("/registry/purposes")
@requires("read")
def purposes() -> ResponseReturnValue:
    rows = [_row(p) for p in registry.read_purposes(context())]
    return page("purposes.html", "purposes", rows=rows)


@blueprint.route("/registry/purpose/<key:key>")
@requires("read")
def purpose(key: str) -> ResponseReturnValue:
    try:
        found = registry.read_purpose(context(), key)
    except UnknownPurpose:
        return not_found()
    versions = [_version(v) for v in reversed(found["versions"])]
    return page(
        "purpose.html", "purposes", purpose=_row(found), versions=versions, saved=request.args.get("saved")
    )


def _version(version: dict[str, Any]) -> dict[str, Any]:
    lang = language()
    return version | {
        "created": when(version["created_at"]),
        "basis": basis_name(version["legal_basis"]),
        "categories": [(key, taxonomy.name(key, lang)) for key in version["data_categories"]],
        "uses": [(key, taxonomy.name(key, lang)) for key in version["data_uses"]],
        "automated": version["automated_decisions"]
        if isinstance(version["automated_decisions"], dict)
        else None,
    }


@blueprint.route("/registry/purposes/new", methods=["GET", "POST"])
@requires(WRITE)
def purpose_new() -> ResponseReturnValue:
    form = PurposeForm()
    return _save(form, None) if form.is_submitted() else page("purpose_form.html", "purposes", form=form)


@blueprint.route("/registry/purpose/<key:key>/edit", methods=["GET", "POST"])
@requires(WRITE)
def purpose_edit(key: str) -> ResponseReturnValue:
    try:
        current = registry.read_purpose(context(), key)
    except UnknownPurpose:
        return not_found()
    form = PurposeForm() if request.method == "POST" else PurposeForm(data=_form_data(current))
    del form.key  # a purpose's key never changes
    if form.is_submitted():
        return _save(form, current)
    return page("purpose_form.html", "purposes", form=form, purpose=current)


def _form_data(current: dict[str, Any]) -> dict[str, Any]:
    adm = current["automated_decisions"] if isinstance(current["automated_decisions"], dict) else {}
    data = {
        "legal_basis": current["legal_basis"],
        "data_categories": "\n".join(current["data_categories"]),
        "data_uses": "\n".join(current["data_uses"]),
        "consent_validity": current["consent_validity"],
        "retention_period": current["retention_period"] or "",
        "direct_marketing": current["direct_marketing"],
        "honor_gpc": current["honor_gpc"],
        "double_opt_in": current.get("confirmation") == "double_opt_in",
        "strictly_necessary": current["strictly_necessary"],
    }
    for lang in ("en", "de"):
        data[f"title_{lang}"] = current["titles"].get(lang, "")
        data[f"description_{lang}"] = current["descriptions"].get(lang, "")
        data[f"logic_{lang}"] = adm.get("logic", {}).get(lang, "")
        data[f"consequences_{lang}"] = adm.get("consequences", {}).get(lang, "")
    return data


def _spec(form: PurposeForm, current: dict[str, Any] | None) -> dict[str, Any]:
    current = current or {"titles": {}, "descriptions": {}, "automated_decisions": None}
    adm = current["automated_decisions"] if isinstance(current["automated_decisions"], dict) else {}
    logic = form_texts(form, "logic", adm.get("logic", {}))
    consequences = form_texts(form, "consequences", adm.get("consequences", {}))
    return {
        "titles": form_texts(form, "title", current["titles"]),
        "descriptions": form_texts(form, "description", current["descriptions"]),
        "legal_basis": form.legal_basis.data,
        "data_categories": lines(form.data_categories.data),
        "data_uses": lines(form.data_uses.data),
        "consent_validity": (form.consent_validity.data or "").strip() or registry.DEFAULT_CONSENT_VALIDITY,
        "retention_period": (form.retention_period.data or "").strip() or None,
        "direct_marketing": bool(form.direct_marketing.data),
        "honor_gpc": bool(form.honor_gpc.data),
        "confirmation": "double_opt_in" if form.double_opt_in.data else None,
        "strictly_necessary": bool(form.strictly_necessary.data),
        "automated_decisions": {"logic": logic, "consequences": consequences}
        if logic or consequences
        else "none",
    }


def _save(form: PurposeForm, current: dict[str, Any] | None) -> ResponseReturnValue:
    if form.validate():
        key = current["key"] if current else form.key.data
        try:
            saved, created = registry.save_purpose(
                context(), key, _spec(form, current), must_be_new=current is None, record=recorded()
            )
        except InvalidInput as exc:
            show_errors(form, exc, PURPOSE_FIELDS)
        except Conflict as exc:
            _conflict(form, exc)
        else:
            outcome = "created" if created else "new" if saved["new_version"] else "same"
            return redirect(url_for("console.purpose", key=key, saved=outcome))
    else:
        _registry_problems(form, current)
    return page("purpose_form.html", "purposes", 422, form=form, purpose=current)


def _registry_problems(form: PurposeForm, current: dict[str, Any] | None) -> None:
    """With the form's own errors, also the registry's (taxonomy, durations), so that one round
    shows every problem; the texts are left to the form, which names the missing language."""
    try:
        registry.validate_purpose(_spec(form, current))
    except InvalidInput as exc:
        errors = {
            name: messages
            for name, messages in (exc.errors or {}).items()
            if name not in ("titles", "descriptions")
            and not getattr(form, PURPOSE_FIELDS.get(name, name)).errors
        }
        show_errors(form, InvalidInput(exc.detail, errors=errors), PURPOSE_FIELDS)


def _conflict(form: PurposeForm, exc: Conflict) -> None:
    if exc.extra.get("reason") == "exists":
        form.key.errors = [_("A purpose with this key is already registered; edit that one instead.")]
    else:  # consent was collected: the legal basis stays consent
        form.legal_basis.errors = [
            _(
                "Consent has been collected for this purpose, so its legal basis stays consent. "
                "Register a new purpose for processing on another basis."
            )
        ]


@blueprint.route("/registry/purpose/<key:key>/diff")
@requires("read")
def purpose_diff(key: str) -> ResponseReturnValue:
    try:
        found = registry.read_purpose(context(), key)
    except UnknownPurpose:
        return not_found()
    versions = {v["version"]: v for v in found["versions"]}
    form = DiffForm(request.args)
    form.a.choices = form.b.choices = [
        SelectChoice(number, _("Version %(number)d (%(date)s)", number=number, date=when(v["created_at"])))
        for number, v in versions.items()
    ]
    latest = found["version"]
    if not (request.args and form.validate() and form.a.data in versions and form.b.data in versions):
        form.a.data, form.b.data = max(latest - 1, 1), latest
    a, b = versions[form.a.data], versions[form.b.data]
    labels = {
        "title": _("Title"),
        "description": _("Description"),
        "legal_basis": _("Legal basis"),
        "data_categories": _("Data categories"),
        "data_uses": _("Data uses"),
        "logic": _("Logic of automated decisions"),
        "consequences": _("Consequences for the person"),
        "languages": {"en": _("English"), "de": _("German")},
    }
    sections = compare(a, b, labels=labels, basis_name=basis_name)
    return page(
        "purpose_diff.html",
        "purposes",
        purpose=_row(found),
        form=form,
        a=_version(a),
        b=_version(b),
        sections=sections,
    )
