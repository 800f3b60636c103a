"""A site's banner settings and the banner's own texts: defaults, merging, every rule named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from babel import Locale

from consent_service.registry import banner_settings, banner_texts
from consent_service.registry.banner_settings import DEFAULTS, contrast, problems, settings

PURPOSES = ["essential", "analytics", "ads"]


def test_what_a_site_does_not_set_takes_the_defaults_and_nested_documents_merge():
    assert settings(None) == DEFAULTS
    merged = settings({"theme": {"accent": "#005a9c"}, "consent_mode": {"enabled": True}})
    assert merged["theme"] == {**DEFAULTS["theme"], "accent": "#005a9c"}
    assert merged["consent_mode"]["enabled"] is True and merged["consent_mode"]["mode"] == "basic"
    assert settings({"texts": {"de": {"accept": "Ja"}}})["texts"] == {"de": {"accept": "Ja"}}
    assert DEFAULTS["theme"]["accent"] == "#0b5cd5", "settings() must not change the defaults"


def test_the_defaults_are_valid():
    assert problems({}, PURPOSES) == {}
    assert problems(DEFAULTS, PURPOSES) == {}


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"colour": "red"}, "banner"),
        ({"languages": []}, "banner.languages"),
        ({"languages": ["en", "xx"]}, "banner.languages"),
        ({"links": {"privacy": "javascript:alert(1)"}}, "banner.links.privacy"),
        ({"links": {"terms": "/terms"}}, "banner.links"),
        ({"theme": {"background": "white"}}, "banner.theme"),
        ({"theme": {"text": "#777777"}}, "banner.theme.text"),
        ({"theme": {"accent": "#ffcc00"}}, "banner.theme.accent"),
        ({"floating_button": "yes"}, "banner.floating_button"),
        ({"reask_after": "P2Y"}, "banner.reask_after"),
        ({"refusal_reask": "soon"}, "banner.refusal_reask"),
        ({"texts": {"de": {"accpet": "Ja"}}}, "banner.texts.de"),
        ({"texts": {"de": {"accept": "  "}}}, "banner.texts.de"),
        ({"texts": {"xx": {"accept": "Ja"}}}, "banner.texts"),
        ({"consent_mode": {"mode": "full"}}, "banner.consent_mode.mode"),
        ({"consent_mode": {"enabled": 1}}, "banner.consent_mode.enabled"),
        (
            {"consent_mode": {"mapping": {"ad_storage": ["newsletter"]}}},
            "banner.consent_mode.mapping.ad_storage",
        ),
        ({"consent_mode": {"mapping": {"cookie_storage": ["ads"]}}}, "banner.consent_mode.mapping"),
        ({"consent_mode": {"regions": ["germany"]}}, "banner.consent_mode.regions"),
        ({"consent_mode": {"wait_for_update": 60000}}, "banner.consent_mode.wait_for_update"),
        ({"consent_mode": {"wait_for_update": True}}, "banner.consent_mode.wait_for_update"),
    ],
)
def test_each_wrong_setting_is_named(doc, field):
    errors = problems(doc, PURPOSES)
    assert field in errors, errors
    assert all(isinstance(m, str) and m for m in errors[field])


def test_a_full_valid_document_passes():
    doc = {
        "languages": ["de", "en"],
        "links": {"privacy": "https://shop.example/datenschutz", "imprint": "/impressum"},
        "theme": {"background": "#1f2328", "text": "#ffffff", "accent": "#005a9c"},
        "floating_button": False,
        "reask_after": "P12M",
        "refusal_reask": "P3M",
        "texts": {"de": {"accept": "Alle akzeptieren"}},
        "consent_mode": {
            "enabled": True,
            "mode": "advanced",
            "mapping": {"analytics_storage": ["analytics"], "ad_storage": ["ads"]},
            "ads_data_redaction": True,
            "url_passthrough": True,
            "regions": ["DE", "ES-CT"],
            "wait_for_update": 500,
        },
    }
    assert problems(doc, PURPOSES) == {}


def test_contrast_is_the_wcag_ratio():
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#ffffff", "#ffffff") == pytest.approx(1.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the lightest AA grey
    assert contrast(DEFAULTS["theme"]["text"], DEFAULTS["theme"]["background"]) >= 4.5
    assert contrast("#ffffff", DEFAULTS["theme"]["accent"]) >= 4.5


def test_every_translation_has_every_text_with_the_same_placeholders():
    english = json.loads((banner_texts.LOCALES / "en.json").read_text(encoding="utf-8"))
    for lang in banner_texts.languages():
        table = json.loads((banner_texts.LOCALES / f"{lang}.json").read_text(encoding="utf-8"))
        assert set(table) == set(english), lang
        for key, text in table.items():
            assert text.strip(), (lang, key)
            assert re.findall(r"\{\w+\}", text) == re.findall(r"\{\w+\}", english[key]), (lang, key)


def test_the_languages_doc_lists_exactly_the_translation_files():
    doc = Path(__file__).resolve().parents[2] / "docs" / "banner-languages.md"
    rows = re.findall(r"^\| (\w[\w ]*) \| `([a-z-]+)` \| `([\w-]+\.json)` \|$", doc.read_text(), re.M)
    assert rows, "no table rows found"
    assert sorted(tag for _, tag, _ in rows) == sorted(p.stem for p in banner_texts.LOCALES.glob("*.json"))
    for name, tag, file in rows:
        assert file == f"{tag}.json", tag
        assert name == Locale.parse(tag).english_name, tag


def test_texts_fall_back_to_english_and_take_a_sites_override():
    assert banner_texts.texts("de")["reject"] != banner_texts.texts("en")["reject"]
    assert banner_texts.texts("xx") == banner_texts.texts("en")
    overridden = banner_texts.texts(
        "de", {"de": {"reject": "Nein danke", "unknown": "x"}, "en": {"accept": "OK"}}
    )
    assert overridden["reject"] == "Nein danke" and "unknown" not in overridden
    assert overridden["accept"] == banner_texts.texts("de")["accept"]


def test_registry_texts_are_picked_in_the_language_else_english_else_any():
    assert banner_texts.pick({"en": "Hello", "de": "Hallo"}, "de") == "Hallo"
    assert banner_texts.pick({"en": "Hello", "de": "Hallo"}, "fr") == "Hello"
    assert banner_texts.pick({"it": "Ciao"}, "fr") == "Ciao"
    assert banner_texts.pick(None, "de", "fallback") == "fallback"
    assert banner_settings.DEFAULTS["languages"][0] in banner_texts.languages()
