"""The request messages' catalogs and rendering: every id translated into German, no stale or
missing ids against the templates, each message renders in both languages."""

from __future__ import annotations

import datetime as dt

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from consent_service import config_checks
from consent_service.config import Config
from consent_service.dsar import messages
from consent_service.errors import ConfigurationError

WHEN = dt.datetime(2026, 3, 2, 22, 59, 59, tzinfo=dt.UTC)
VALUES = {
    "received": {"received": WHEN, "due": WHEN, "next": "code"},
    "verification_code": {"code": "123456", "minutes": 30},
    "extended": {"due": WHEN, "original_due": WHEN, "reason": "many systems"},
    "refused": {"ground": "other", "reason": "r", "authority_name": "", "authority_url": ""},
    "completed_access": {"link": "https://x.example/v1/packages/t", "link_expires": WHEN},
    "completed_portability": {"link": "https://x.example/v1/packages/t", "link_expires": WHEN},
    "completed_erasure": {"held": True, "held_until": WHEN},
    "completed_rectification": {"fields": ["email", "name"]},
    "restriction_applied": {"purposes": ["newsletter"]},
    "restriction_lifted": {"purposes": ["*"], "reason": "accuracy verified"},
    "objection_in_force": {"purposes": ["newsletter"]},
}


def template_ids() -> set[str]:
    found = extract_from_dir(
        str(messages.TEMPLATES),
        method_map=[("**.txt", "jinja2.ext:babel_extract")],
        options_map={"**.txt": {"trimmed": "true"}},
    )
    return {message for _, _, message, _, _ in found}


def catalog(language: str):
    with (messages.CATALOGS / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return read_po(po, locale=language)


@pytest.mark.parametrize("language", messages.SUPPORTED)
def test_the_catalogs_hold_exactly_the_ids_of_the_templates(language):
    ids = {m.id for m in catalog(language) if m.id}
    extracted = template_ids()
    assert extracted, "the extractor found no texts"
    assert not extracted - ids, f"missing in {language}: {sorted(extracted - ids)}"
    assert not ids - extracted, f"stale in {language}: {sorted(ids - extracted)}"


def test_every_id_has_a_german_translation():
    untranslated = [m.id for m in catalog("de") if m.id and (not m.string or m.fuzzy)]
    assert untranslated == []


@pytest.mark.parametrize("kind", messages.KINDS)
@pytest.mark.parametrize("language", messages.SUPPORTED)
def test_each_message_renders_with_the_controller_and_the_request(kind, language):
    message = messages.render(kind, language, Config(), request_id="req_1", type="access", **VALUES[kind])
    assert message.language == language and message.title and "\n" not in message.title
    assert "req_1" in message.body and "Example Controller GmbH" in message.body
    assert "privacy@example.org" in message.body


def test_dates_are_in_the_readers_locale_and_the_controllers_time_zone():
    berlin = Config(timezone="Europe/Berlin")
    values = VALUES["extended"] | {"due": dt.datetime(2026, 3, 31, 22, 30, tzinfo=dt.UTC)}
    assert (
        "1. April 2026"
        in messages.render("extended", "de", berlin, request_id="r", type="access", **values).body
    )
    assert (
        "31 March 2026"
        in messages.render("extended", "en", Config(), request_id="r", type="access", **values).body
    )


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("de", "de"), ("de-AT", "de"), ("DE_ch", "de"), ("en-GB", "en"), ("fr", "en"), (None, "en"), ("", "en")],
)
def test_the_best_supported_language_is_chosen(tag, expected):
    assert messages.best_language(tag, "en") == expected
    assert messages.best_language("fr", "de") == "de"


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("default_language", "fr"),
        ("supervisory_authority_url", "www.datenschutz-berlin.de"),
        ("supervisory_authority_url", "ftp://authority.example"),
        ("public_url", "not a url"),
        ("repeat_window", "three months"),
    ],
)
def test_bad_message_settings_are_refused(setting, value):
    with pytest.raises(ConfigurationError, match="CONSENT_"):
        config_checks.check(Config(**{setting: value}))
    config_checks.check(Config(supervisory_authority_url="https://www.datenschutz-berlin.de"))
