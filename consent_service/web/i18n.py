"""The console's languages (de, en) with Flask-Babel; catalogs compiled in memory.

The texts are in ``templates/`` and the Python modules of ``web/`` (gettext / lazy_gettext),
English being the source language: ``translations/en`` is empty by design and ``translations/de``
translated, in the terms of the product's German glossary. Flask-Babel would read ``.mo`` files;
``CompiledDomain`` instead compiles the ``.po`` files the first time a language is used
(``consent_service.catalogs``), so a fresh clone serves German with no build step. After changing
a text, refresh the catalogs with ``make catalogs`` (pybabel extract and update, sorted and
without line numbers) and translate the new German ids.

``tests/unit/test_console_messages.py`` fails while an id is stale, missing or untranslated.

The language is the one the staff member chose (the ``console_lang`` cookie, set by the DE/EN
switch, which is a POST form with its CSRF token), else the best match of Accept-Language, else
``CONSENT_DEFAULT_LANGUAGE``. Dates are shown in the controller's time zone (``CONSENT_TIMEZONE``).
"""

from __future__ import annotations

import functools
from pathlib import Path

from babel.support import NullTranslations, Translations
from flask import Flask, current_app, g, request
from flask_babel import Babel, Domain, format_datetime, get_locale

from consent_service.catalogs import compile_po
from consent_service.config import DATE_LOCALES, SUPPORTED_LANGUAGES

CATALOGS = Path(__file__).parent / "translations"
LANGUAGE_COOKIE = "console_lang"


@functools.cache
def translations(language: str) -> Translations:
    return compile_po(CATALOGS / language / "LC_MESSAGES" / "messages.po", language)


def language() -> str:
    """The language of this request's page: a public page's own (``g.page_language``, the
    person's), else the one chosen, else the browser's."""
    if g.get("page_language") in SUPPORTED_LANGUAGES:
        return str(g.page_language)
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in SUPPORTED_LANGUAGES:
        return chosen
    default = current_app.extensions["consent"].config.default_language
    return request.accept_languages.best_match(SUPPORTED_LANGUAGES, default=default) or default


class CompiledDomain(Domain):
    """Flask-Babel's domain with catalogs from the ``.po`` files instead of ``.mo`` files."""

    def get_translations(self) -> Translations | NullTranslations:
        locale = get_locale()
        if locale is None:
            return NullTranslations()
        return translations(locale.language if locale.language in SUPPORTED_LANGUAGES else "en")


def moment(value: object) -> str:
    """A point in time as the reader writes it, in the controller's time zone (3 Dec 2026,
    14:05:07 / 03.12.2026, 14:05:07); empty when there is none."""
    return format_datetime(value, "medium") if value else ""


def _locale() -> str:
    return DATE_LOCALES[language()]


def install(app: Flask) -> None:
    config = app.extensions["consent"].config
    babel = Babel(
        app,
        locale_selector=_locale,
        timezone_selector=lambda: config.timezone,
        default_timezone=config.timezone,
    )
    babel.domain_instance = CompiledDomain()
