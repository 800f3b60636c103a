"""The banner fieldset of the console's site form: the settings shown with their defaults, saved
through the registry, the registry's ``banner.<field>`` errors next to the right field (in
English and German), and the text overrides set through the API kept by the form."""

from __future__ import annotations

import pytest

from consent_service import create_app
from consent_service.registry import banner_settings, sites
from consent_service.registry import service as registry
from tests.api.test_console_registry import PURPOSE, error_of, submit, text
from tests.console_helpers import add_staff, form_values, sign_in

NEW = "/console/registry/sites/new"
SITE = {"name": "Tea shop", "origins": "https://tea.example", "purposes": ["analytics", "ads"]}


@pytest.fixture
def client(clocked_ctx):
    add_staff(clocked_ctx)
    for key in ("analytics", "ads"):
        registry.save_purpose(clocked_ctx, key, PURPOSE)
    client = create_app(context=clocked_ctx).test_client()
    sign_in(client)
    return client


def test_the_form_shows_the_defaults_and_saves_them_untouched(client, clocked_ctx):
    page = text(client.get(NEW, headers={"Accept-Language": "en"}))
    shown = form_values(page)
    assert shown["languages"] == ["en", "de"] and shown["language_default"] == ["en"]
    assert shown["theme_accent"] == ["#0b5cd5"]
    assert shown["floating_button"] == ["y"] and shown["cm_mode"] == ["basic"]
    assert shown["reask_after"] == ["P13M"] and shown["cm_wait_for_update"] == ["500"]
    assert 'type="color"' in page
    assert "PUT /v1/sites/&lt;id&gt;/banner" in page
    assert submit(client, NEW, SITE).status_code == 302
    (site,) = sites.read_sites(clocked_ctx)
    assert site["banner"] == banner_settings.DEFAULTS


def test_every_setting_is_saved_and_shown_again(client, clocked_ctx):
    settings = {
        "languages": ["de"],
        "language_default": "de",
        "link_privacy": "https://tea.example/datenschutz",
        "link_imprint": "/impressum",
        "theme_background": "#fffff0",
        "theme_text": "#000000",
        "theme_accent": "#8b0000",
        "floating_button": [],
        "reask_after": "P12M",
        "refusal_reask": "P3M",
        "cm_enabled": "y",
        "cm_mode": "advanced",
        "cm_analytics_storage": ["analytics"],
        "cm_ad_storage": ["ads", "analytics"],
        "cm_ads_data_redaction": [],
        "cm_url_passthrough": "y",
        "cm_regions": "de\nES-CT\n",
        "cm_wait_for_update": "800",
    }
    assert submit(client, NEW, {**SITE, **settings}).status_code == 302
    (site,) = sites.read_sites(clocked_ctx)
    assert site["banner"] == {
        "languages": ["de"],
        "links": {"privacy": "https://tea.example/datenschutz", "imprint": "/impressum"},
        "theme": {"background": "#fffff0", "text": "#000000", "accent": "#8b0000"},
        "floating_button": False,
        "reask_after": "P12M",
        "refusal_reask": "P3M",
        "texts": {},
        "consent_mode": {
            "enabled": True,
            "mode": "advanced",
            "mapping": {"analytics_storage": ["analytics"], "ad_storage": ["ads", "analytics"]},
            "ads_data_redaction": False,
            "url_passthrough": True,
            "regions": ["DE", "ES-CT"],
            "wait_for_update": 800,
        },
    }
    edit = f"/console/registry/site/{site['id']}/edit"
    shown = form_values(text(client.get(edit)))
    assert shown["cm_regions"] == ["DE\nES-CT"] and shown["cm_ad_storage"] == ["ads", "analytics"]
    assert "floating_button" not in shown and shown["theme_accent"] == ["#8b0000"]


def test_the_registry_errors_are_shown_next_to_their_fields_and_nothing_is_saved(client, clocked_ctx):
    assert submit(client, NEW, SITE).status_code == 302
    (site,) = sites.read_sites(clocked_ctx)
    edit = f"/console/registry/site/{site['id']}/edit"
    bad = {
        "purposes": ["analytics"],
        "theme_background": "#000000",
        "theme_text": "#222222",
        "reask_after": "P2Y",
        "cm_ad_storage": ["ads"],
    }
    answer = submit(client, edit, bad)
    assert answer.status_code == 422
    html = text(answer)
    assert "contrast of 4.5:1" in error_of(html, "theme_text")
    assert "P13M" in error_of(html, "reask_after")
    assert "Not offered by this site: ads" in error_of(html, "cm_ad_storage")
    assert 'href="#cm_ad_storage"' in html, "the summary links to the field"
    assert sites.read_site(clocked_ctx, site["id"]) == site, "a refused change writes nothing"
    german = text(submit(client, edit, bad, headers={"Accept-Language": "de"}))
    assert "Höchstens P13M." in error_of(german, "reask_after")
    assert "Sprachen des Banners" in german and "Einwilligungsmodus" in german


def test_text_overrides_set_through_the_api_are_kept(client, clocked_ctx):
    assert submit(client, NEW, SITE).status_code == 302
    (site,) = sites.read_sites(clocked_ctx)
    texts = {"de": {"accept": "Alle erlauben"}}
    sites.set_site_banner(clocked_ctx, site["id"], {"texts": texts})
    edit = f"/console/registry/site/{site['id']}/edit"
    assert submit(client, edit, {"floating_button": []}).status_code == 302
    banner = sites.read_site(clocked_ctx, site["id"])["banner"]
    assert banner["texts"] == texts and banner["floating_button"] is False


def test_the_default_language_comes_first_and_stays_first(client, clocked_ctx):
    german_first = {**SITE, "languages": ["en", "de"], "language_default": "de"}
    assert submit(client, NEW, german_first).status_code == 302
    (site,) = sites.read_sites(clocked_ctx)
    assert site["banner"]["languages"] == ["de", "en"]
    edit = f"/console/registry/site/{site['id']}/edit"
    assert form_values(text(client.get(edit)))["language_default"] == ["de"]
    assert submit(client, edit, {"name": "Tea house"}).status_code == 302
    assert sites.read_site(clocked_ctx, site["id"])["banner"]["languages"] == ["de", "en"]
    only = submit(client, edit, {"languages": [], "language_default": "en"})
    assert only.status_code == 302, "the default language is always offered"
    assert sites.read_site(clocked_ctx, site["id"])["banner"]["languages"] == ["en"]
