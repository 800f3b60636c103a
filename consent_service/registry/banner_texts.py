"""The banner's own texts (buttons, headings, notices) per language, from the translation files
in ``banner_locales/<lang>.json``, which a site may override text by text.

English is complete and the fallback for every text a language or a site does not give. Purpose
and cookie texts are not here: they come from the registry, per language, with the same fallback.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = Path(__file__).parent / "banner_locales"
FALLBACK = "en"


@cache
def _file(lang: str) -> dict[str, str]:
    return dict(json.loads((LOCALES / f"{lang}.json").read_text(encoding="utf-8")))


@cache
def languages() -> tuple[str, ...]:
    """The languages the banner has translation files for (``en`` first)."""
    found = sorted(p.stem for p in LOCALES.glob("*.json"))
    return (FALLBACK, *(lang for lang in found if lang != FALLBACK))


def keys() -> frozenset[str]:
    """The text ids a site may override (those of the English file)."""
    return frozenset(_file(FALLBACK))


def texts(lang: str, overrides: dict[str, Any] | None = None) -> dict[str, str]:
    """Every banner text in ``lang``: the site's override, else the translation file, else English."""
    out = dict(_file(FALLBACK))
    if lang in languages():
        out.update(_file(lang))
    for key, value in ((overrides or {}).get(lang) or {}).items():
        if key in out and isinstance(value, str) and value.strip():
            out[key] = value
    return out


def pick(texts_by_lang: dict[str, Any] | None, lang: str, fallback: str = "") -> str:
    """A registry text (``{lang: text}``) in ``lang``, else in English, else any, else ``fallback``."""
    if not texts_by_lang:
        return fallback
    for candidate in (lang, FALLBACK):
        if texts_by_lang.get(candidate):
            return str(texts_by_lang[candidate])
    return next((str(v) for v in texts_by_lang.values() if v), fallback)
