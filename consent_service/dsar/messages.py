"""What the person is told: one e-mail per event of their request, in their language.

Messages are plain-text Jinja2 templates (``message_templates/<kind>.txt``, each extending
``base.txt``, which names the controller and the request) whose texts go through gettext
(``jinja2.ext.i18n``, trimmed). The catalogs are Babel ``.po`` files under
``translations/<language>/LC_MESSAGES/messages.po``; English is the source language (its
catalog is empty by design: a missing msgstr falls back to the English msgid), German is
translated. Dates are formatted by ``babel.dates`` in the reader's locale, in the controller's
time zone (``CONSENT_TIMEZONE``). The same pipeline is meant for the web console.

No build step: a ``.po`` file is compiled in memory (``consent_service.catalogs.compile_po``)
the first time its language is used, and kept for the process.
After changing a template, refresh the catalogs with Babel's own tools::

    pybabel extract -F consent_service/dsar/babel.cfg -o /tmp/messages.pot consent_service/dsar
    pybabel update -i /tmp/messages.pot -d consent_service/dsar/translations --no-fuzzy-matching

and translate what is new; ``tests/unit/test_messages.py`` fails while an id is stale, missing
or untranslated in German.

A request keeps the language tag it was made in (``dsar_requests.language``, BCP 47 as given).
The message uses the best supported match: the tag itself, else its primary language
(``de-AT`` → ``de``), else the controller's ``CONSENT_DEFAULT_LANGUAGE``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_date, format_datetime
from babel.support import Translations

from consent_service.catalogs import compile_po
from consent_service.config import DATE_LOCALES, SUPPORTED_LANGUAGES, Config

HERE = Path(__file__).parent
TEMPLATES = HERE / "message_templates"
CATALOGS = HERE / "translations"
SUPPORTED = SUPPORTED_LANGUAGES
KINDS = (
    "received",
    "verification_code",
    "extended",
    "refused",
    "completed_access",
    "completed_portability",
    "completed_erasure",
    "completed_rectification",
    "restriction_applied",
    "restriction_lifted",
    "objection_in_force",
)
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8}){0,4}$")


@dataclass(frozen=True)
class Message:
    kind: str
    language: str
    title: str
    body: str


def best_language(tag: str | None, default: str) -> str:
    """The supported language closest to ``tag``: itself, its primary subtag, else ``default``."""
    if tag:
        lowered = tag.strip().lower().replace("_", "-")
        for candidate in (lowered, lowered.split("-", 1)[0]):
            if candidate in SUPPORTED:
                return candidate
    return default


@functools.cache
def translations(language: str) -> Translations:
    """The compiled catalog of ``language`` (compiled in memory once per process)."""
    return compile_po(CATALOGS / language / "LC_MESSAGES" / "messages.po", language)


def environment() -> jinja2.Environment:
    """A Jinja2 environment with the i18n extension, as the templates and the extractor expect."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain-text e-mail; nothing is rendered as HTML
        keep_trailing_newline=False,
    )
    env.policies["ext.i18n.trimmed"] = True
    return env


@functools.cache
def _environment(language: str) -> jinja2.Environment:
    env = environment()
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


def type_name(type: str, language: str) -> str:
    """The name of a request type in ``language`` ("Access", "Auskunft"; English when the language
    is not supported): the one list of these names is ``message_templates/_words.txt``, which also
    says in a sentence to the person what they asked for."""
    words = _environment(language if language in SUPPORTED else "en").get_template("_words.txt").module
    return str(getattr(words, "type_name")(type))  # noqa: B009 - a macro of the template's module


def render(kind: str, tag: str | None, config: Config, **values: Any) -> Message:
    """The message ``kind`` for a reader of language ``tag``: its title and plain-text body.

    Datetimes among ``values`` become dates in the reader's locale and the controller's time
    zone (``*_at`` keys with a time: ``link_expires``); the controller is taken from ``config``."""
    if kind not in KINDS:
        raise ValueError(f"no message {kind!r}")
    language = best_language(tag, config.default_language)
    zone = ZoneInfo(config.timezone)
    shown = {
        name: (
            format_datetime(value.astimezone(zone), "long", tzinfo=zone, locale=DATE_LOCALES[language])
            if name == "link_expires"
            else format_date(value.astimezone(zone), "long", locale=DATE_LOCALES[language])
        )
        if isinstance(value, dt.datetime)
        else value
        for name, value in values.items()
    }
    text = (
        _environment(language)
        .get_template(f"{kind}.txt")
        .render(
            controller_name=config.controller_name,
            controller_contact=config.controller_contact,
            controller_address=config.controller_address,
            **shown,
        )
    )
    # paragraphs are separated by one blank line, however many lines the template tags left
    text = re.sub(r"\n\s*\n(\s*\n)+", "\n\n", re.sub(r"[ \t]+\n", "\n", text)).strip()
    title, _, body = text.partition("\n\n")
    return Message(kind, language, title.strip(), body + "\n")
