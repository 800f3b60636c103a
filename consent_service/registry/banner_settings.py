"""A site's banner settings: one document per site (``sites.banner``), checked here field by field.

What a site does not set takes the value of ``DEFAULTS``; ``settings(site)`` gives the whole
document. Fields:

- ``languages``: the languages the banner offers (each with a translation file), the first is
  the default when the page's own language is not among them.
- ``links``: ``privacy`` and ``imprint`` URLs shown in the banner (or null).
- ``theme``: ``background``, ``text`` and ``accent`` colours (``#rrggbb``); text on background
  and white on accent must reach a contrast of 4.5:1 (WCAG 2.2 AA).
- ``floating_button``: the small button that reopens the settings (off when the site has its own link).
- ``reask_after``: a decision is asked again after this long at the latest (at most ``P13M``).
- ``refusal_reask``: a refused purpose is not asked again for this long unless the person opens
  the settings (default ``P6M``).
- ``texts``: ``{lang: {text id: text}}``, overriding the banner's translation files text by text.
- ``consent_mode``: Google Consent Mode v2: ``enabled``, ``mode`` (``basic``: Google tags are
  blocked until consent; ``advanced``: they load at once with every type denied),
  ``mapping`` (``{consent type: [purpose keys]}``: a type is granted when each of its purposes is),
  ``ads_data_redaction``, ``url_passthrough``, ``regions`` (ISO 3166 codes the default applies to;
  empty: everywhere) and ``wait_for_update`` (milliseconds).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from consent_service.durations import DurationError, at_most, parse_duration
from consent_service.registry import banner_texts

CONSENT_TYPES = (
    "ad_storage",
    "analytics_storage",
    "ad_user_data",
    "ad_personalization",
    "functionality_storage",
    "personalization_storage",
    "security_storage",
)
MODES = ("basic", "advanced")
MAX_REASK = "P13M"
MAX_TEXT = 2000
MAX_WAIT_MS = 10000

DEFAULTS: dict[str, Any] = {
    "languages": ["en", "de"],
    "links": {"privacy": None, "imprint": None},
    "theme": {"background": "#ffffff", "text": "#1f2328", "accent": "#0b5cd5"},
    "floating_button": True,
    "reask_after": MAX_REASK,
    "refusal_reask": "P6M",
    "texts": {},
    "consent_mode": {
        "enabled": False,
        "mode": "basic",
        "mapping": {},
        "ads_data_redaction": True,
        "url_passthrough": False,
        "regions": [],
        "wait_for_update": 500,
    },
}

_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")
_REGION = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,3})?")


def settings(stored: dict[str, Any] | None) -> dict[str, Any]:
    """The whole settings document: ``stored`` over ``DEFAULTS`` (nested documents merged)."""
    out = copy.deepcopy(DEFAULTS)
    for key, value in (stored or {}).items():
        if isinstance(out.get(key), dict) and isinstance(value, dict) and key != "texts":
            out[key] = {**out[key], **value}
        else:
            out[key] = copy.deepcopy(value)
    return out


def problems(doc: dict[str, Any], purposes: Sequence[str]) -> dict[str, list[str]]:
    """What is wrong with a settings document (``banner.<field>`` keys; empty when valid).
    ``purposes``: the site's offer, which the Consent Mode mapping may name."""
    if not isinstance(doc, dict):
        return {"banner": ["must be an object"]}
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(doc) - set(DEFAULTS))
    if unknown:
        errors["banner"] = [f"unknown setting(s): {', '.join(unknown)}"]
    full = settings({k: v for k, v in doc.items() if k in DEFAULTS})

    def add(field: str, message: str) -> None:
        errors.setdefault(f"banner.{field}", []).append(message)

    langs = full["languages"]
    if not isinstance(langs, list) or not langs or not all(isinstance(x, str) for x in langs):
        add("languages", "a list of at least one language")
    elif missing := [x for x in langs if x not in banner_texts.languages()]:
        add(
            "languages",
            f"no translation for: {', '.join(missing)} (have {', '.join(banner_texts.languages())})",
        )
    links = full["links"]
    for name in ("privacy", "imprint"):
        url = links.get(name) if isinstance(links, dict) else None
        if url is not None and (not isinstance(url, str) or not url.startswith(("https://", "http://", "/"))):
            add(f"links.{name}", "an http(s) URL or a path starting with /")
    if isinstance(links, dict) and (extra := sorted(set(links) - {"privacy", "imprint"})):
        add("links", f"unknown link(s): {', '.join(extra)}")
    theme = full["theme"]
    if not isinstance(theme, dict) or set(theme) != {"background", "text", "accent"}:
        add("theme", "background, text and accent colours")
    elif bad := [k for k, v in theme.items() if not (isinstance(v, str) and _COLOUR.fullmatch(v))]:
        add("theme", f"not a colour like #1f2328: {', '.join(sorted(bad))}")
    else:
        if contrast(theme["text"], theme["background"]) < 4.5:
            add("theme.text", "text on background must reach a contrast of 4.5:1")
        if contrast("#ffffff", theme["accent"]) < 4.5:
            add("theme.accent", "white text on the accent colour must reach a contrast of 4.5:1")
    if not isinstance(full["floating_button"], bool):
        add("floating_button", "true or false")
    for name in ("reask_after", "refusal_reask"):
        try:
            parse_duration(full[name])
            if not at_most(full[name], MAX_REASK):
                add(name, f"must not exceed {MAX_REASK}")
        except (DurationError, TypeError) as exc:
            add(name, str(exc))
    _text_problems(full["texts"], add)
    _consent_mode_problems(full["consent_mode"], purposes, add)
    return errors


def _text_problems(texts: Any, add: Any) -> None:
    if not isinstance(texts, dict):
        add("texts", "an object {language: {text id: text}}")
        return
    known = banner_texts.keys()
    for lang, table in texts.items():
        if lang not in banner_texts.languages():
            add("texts", f"no translation for language {lang!r}")
        elif not isinstance(table, dict):
            add(f"texts.{lang}", "an object {text id: text}")
        else:
            if unknown := sorted(set(table) - known):
                add(f"texts.{lang}", f"unknown text id(s): {', '.join(unknown)}")
            if [k for k, v in table.items() if not isinstance(v, str) or not v.strip() or len(v) > MAX_TEXT]:
                add(f"texts.{lang}", f"each text is a non-empty string of at most {MAX_TEXT} characters")


def _consent_mode_problems(cm: Any, purposes: Sequence[str], add: Any) -> None:
    if not isinstance(cm, dict):
        add("consent_mode", "an object")
        return
    if extra := sorted(set(cm) - set(DEFAULTS["consent_mode"])):
        add("consent_mode", f"unknown setting(s): {', '.join(extra)}")
    for name in ("enabled", "ads_data_redaction", "url_passthrough"):
        if not isinstance(cm.get(name), bool):
            add(f"consent_mode.{name}", "true or false")
    if cm.get("mode") not in MODES:
        add("consent_mode.mode", f"one of {', '.join(MODES)}")
    mapping = cm.get("mapping")
    if not isinstance(mapping, dict):
        add("consent_mode.mapping", "an object {consent type: [purpose keys]}")
    else:
        for ctype, keys in mapping.items():
            if ctype not in CONSENT_TYPES:
                add("consent_mode.mapping", f"{ctype!r} is not one of {', '.join(CONSENT_TYPES)}")
            elif not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
                add(f"consent_mode.mapping.{ctype}", "a list of at least one purpose key")
            elif missing := [k for k in keys if k not in purposes]:
                add(f"consent_mode.mapping.{ctype}", f"not offered by this site: {', '.join(missing)}")
    regions = cm.get("regions")
    if not isinstance(regions, list) or not all(isinstance(r, str) and _REGION.fullmatch(r) for r in regions):
        add("consent_mode.regions", "a list of ISO 3166 codes like DE or ES-CT")
    wait = cm.get("wait_for_update")
    if not isinstance(wait, int) or isinstance(wait, bool) or not 0 <= wait <= MAX_WAIT_MS:
        add("consent_mode.wait_for_update", f"milliseconds from 0 to {MAX_WAIT_MS}")


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    """The WCAG contrast ratio of two ``#rrggbb`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)
