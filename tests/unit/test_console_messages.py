"""The console's catalogs: exactly the ids of its templates and modules, all translated into
German, and the glossary's terms where the console names them."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from consent_service.config import SUPPORTED_LANGUAGES
from consent_service.dsar.messages import type_name
from consent_service.web import i18n

WEB = Path(i18n.__file__).parent


def extracted_ids() -> set[str]:
    found = extract_from_dir(
        str(WEB),
        method_map=[("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")],
        options_map={"**/templates/**.html": {"trimmed": "true"}},
        keywords={"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None},
    )
    return {message if isinstance(message, str) else message[0] for _, _, message, _, _ in found}


def catalog(language: str):
    with (i18n.CATALOGS / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


def ids(language: str) -> set[str]:
    return {m.id if isinstance(m.id, str) else m.id[0] for m in catalog(language) if m.id}


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_the_catalogs_hold_exactly_the_ids_of_the_pages(language):
    extracted = extracted_ids()
    assert len(extracted) > 40, "the extractor found too few texts"
    assert not extracted - ids(language), f"missing in {language}: {sorted(extracted - ids(language))}"
    assert not ids(language) - extracted, f"stale in {language}: {sorted(ids(language) - extracted)}"


def test_every_id_has_a_german_translation():
    untranslated = [
        m.id
        for m in catalog("de")
        if m.id and (m.fuzzy or not all(m.string if isinstance(m.string, tuple) else [m.string]))
    ]
    assert untranslated == []


def test_the_german_texts_use_the_glossary():
    german = {m.id if isinstance(m.id, str) else m.id[0]: m.string for m in catalog("de") if m.id}
    # the request types' names are the request messages' (one list: dsar/message_templates/_words.txt)
    assert type_name("access", "de") == "Auskunft" and type_name("access", "en") == "Access"
    assert type_name("erasure", "de") == "Löschung"
    assert type_name("restriction", "de") == "Einschränkung der Verarbeitung"
    assert type_name("portability", "de") == "Datenübertragbarkeit"
    assert german["Refusal"] == "Ablehnung" and german["Extension of the deadline"] == "Fristverlängerung"
    assert german["Deadline"] == "Frist"
    assert german["data protection officer"] == "Datenschutzbeauftragte(r)"
    assert german["Requests"] == "Betroffenenanfragen"


def test_the_compiled_german_catalog_translates_a_plural():
    translations = i18n.translations("de")
    assert translations.ungettext("due in %(num)d day", "due in %(num)d days", 2) == "fällig in %(num)d Tagen"
