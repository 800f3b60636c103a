"""The banner part of the console's site form: the settings document (``registry.banner_settings``)
as form fields and back, and where each of the registry's ``banner.<field>`` errors is shown.

The form holds every setting but the text overrides (``texts``), which are set through
``PUT /v1/sites/<id>/banner`` or ``consent-service sites banner`` and kept as they are here.
"""

from __future__ import annotations

from typing import Any

from babel import Locale
from wtforms.fields.choices import SelectChoice

from consent_service.registry import banner_settings, banner_texts
from consent_service.registry.banner_settings import CONSENT_TYPES
from consent_service.web.console.registry import lines
from consent_service.web.console.registry_forms import SiteForm
from consent_service.web.i18n import language

# The registry's error keys -> the form's fields (a key not named here goes next to the name).
BANNER_FIELDS = {
    "banner.languages": "language_default",
    "banner.texts": "languages",
    "banner.links": "link_privacy",
    "banner.links.privacy": "link_privacy",
    "banner.links.imprint": "link_imprint",
    "banner.theme": "theme_background",
    "banner.theme.text": "theme_text",
    "banner.theme.accent": "theme_accent",
    "banner.floating_button": "floating_button",
    "banner.reask_after": "reask_after",
    "banner.refusal_reask": "refusal_reask",
    "banner.consent_mode": "cm_enabled",
    "banner.consent_mode.mapping": "cm_enabled",
    **{f"banner.consent_mode.{name}": f"cm_{name}" for name in banner_settings.DEFAULTS["consent_mode"]},
    **{f"banner.consent_mode.mapping.{t}": f"cm_{t}" for t in CONSENT_TYPES},
}


def _language_name(code: str) -> str:
    try:
        return f"{Locale.parse(code).get_display_name(language())} ({code})"
    except (ValueError, LookupError):
        return code


def banner_choices(form: SiteForm, purposes: list[SelectChoice]) -> None:
    """The languages with a translation file; the registered purposes for each consent type."""
    form.languages.choices = [SelectChoice(code, _language_name(code)) for code in banner_texts.languages()]
    form.language_default.choices = list(form.languages.choices)
    for consent_type in CONSENT_TYPES:
        getattr(form, f"cm_{consent_type}").choices = purposes


def banner_data(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The form's data for a site's settings (defaults where it has none)."""
    full = banner_settings.settings(stored)
    cm = full["consent_mode"]
    return {
        "languages": full["languages"],
        "language_default": full["languages"][0] if full["languages"] else "",
        "link_privacy": full["links"].get("privacy") or "",
        "link_imprint": full["links"].get("imprint") or "",
        **{f"theme_{name}": full["theme"][name] for name in ("background", "text", "accent")},
        "floating_button": full["floating_button"],
        "reask_after": full["reask_after"],
        "refusal_reask": full["refusal_reask"],
        **{f"cm_{name}": cm[name] for name in ("enabled", "mode", "ads_data_redaction", "url_passthrough")},
        "cm_regions": "\n".join(cm["regions"]),
        "cm_wait_for_update": cm["wait_for_update"],
        **{f"cm_{t}": cm["mapping"].get(t, []) for t in CONSENT_TYPES},
    }


def banner_doc(form: SiteForm, stored: dict[str, Any] | None) -> dict[str, Any]:
    """The settings document the form describes; the stored text overrides are kept."""

    def text(value: str | None) -> str | None:
        return (value or "").strip() or None

    mapping = {t: list(data) for t in CONSENT_TYPES if (data := getattr(form, f"cm_{t}").data)}
    default = form.language_default.data
    chosen = [lang for lang in form.languages.data or [] if lang != default]
    return {
        "languages": [default, *chosen] if default else chosen,  # the first is the default
        "links": {"privacy": text(form.link_privacy.data), "imprint": text(form.link_imprint.data)},
        "theme": {
            "background": (form.theme_background.data or "").strip(),
            "text": (form.theme_text.data or "").strip(),
            "accent": (form.theme_accent.data or "").strip(),
        },
        "floating_button": bool(form.floating_button.data),
        "reask_after": (form.reask_after.data or "").strip(),
        "refusal_reask": (form.refusal_reask.data or "").strip(),
        "texts": banner_settings.settings(stored)["texts"],
        "consent_mode": {
            "enabled": bool(form.cm_enabled.data),
            "mode": form.cm_mode.data,
            "mapping": mapping,
            "ads_data_redaction": bool(form.cm_ads_data_redaction.data),
            "url_passthrough": bool(form.cm_url_passthrough.data),
            "regions": [r.upper() for r in lines(form.cm_regions.data)],
            "wait_for_update": form.cm_wait_for_update.data,
        },
    }
