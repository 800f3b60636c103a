"""What a banner loads: its texts, purposes and cookies in a language, and the site's settings."""

from __future__ import annotations

import pytest

from consent_service.errors import InvalidInput
from consent_service.registry import banner_texts, sites
from consent_service.registry import service as registry
from tests.api.helpers import assert_problem

ORIGIN = "https://shop.example"


def config(client, site, lang=None):
    query = f"?lang={lang}" if lang else ""
    response = client.get(f"/v1/public/sites/{site['site_key']}{query}", headers={"Origin": ORIGIN})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_the_banner_gets_everything_in_the_language_it_asks_for(client, demo):
    body = config(client, demo["site"], "de")
    assert body["language"] == "de" and body["languages"] == ["en", "de"]
    assert body["texts"] == banner_texts.texts("de")
    by_key = {p["key"]: p for p in body["purposes"]}
    assert by_key["analytics"]["title"] == "Website-Analyse"
    assert by_key["essential"]["strictly_necessary"] is True
    assert by_key["analytics"]["strictly_necessary"] is False and by_key["analytics"]["honor_gpc"] is True
    cookies = {c["name"]: c for c in body["cookies"]}
    assert cookies["_ga"]["text"] == "Unterscheidet Besuche." and cookies["_ga"]["path"] == "/"
    assert body["settings"]["consent_mode"]["enabled"] is False
    assert body["settings"]["floating_button"] is True and body["settings"]["refusal_reask"] == "P6M"


def test_a_language_the_site_does_not_offer_gets_its_first(client, demo):
    body = config(client, demo["site"], "fr")
    assert body["language"] == "en" and body["purposes"][1]["title"] == "Website analytics"
    assert config(client, demo["site"])["language"] == "en"


def test_cookie_texts_and_paths_are_registered_and_checked(client, admin, demo):
    spec = {"domain": ".shop.example", "provider": "Shop", "duration": "P1D", "purpose": "analytics"}
    put = client.put(
        "/v1/cookies/_pk_id", headers=admin, json={**spec, "path": "/shop", "descriptions": {"de": "Zählt"}}
    )
    assert put.status_code == 201, put.get_data(as_text=True)
    assert put.get_json()["path"] == "/shop" and put.get_json()["descriptions"] == {"de": "Zählt"}
    for bad in (
        {"path": "shop"},
        {"path": "/a;b"},
        {"descriptions": {"d": "x"}},
        {"descriptions": {"de": ""}},
    ):
        problem = assert_problem(client.put("/v1/cookies/_pk_id", headers=admin, json={**spec, **bad}), 422)
        assert set(problem["errors"]) == set(bad), problem
    listed = {c["name"]: c for c in client.get("/v1/cookies", headers=admin).get_json()}
    assert listed["_pk_id"]["path"] == "/shop", "a refused change writes nothing"


def test_a_sites_banner_settings_are_checked_stored_and_served(client, ctx, demo):
    with pytest.raises(InvalidInput) as refused:
        registry.register_site(
            ctx,
            name="Dark shop",
            origins=["https://dark.example"],
            purposes=["analytics"],
            cookies=[],
            banner={"theme": {"background": "#000000", "text": "#333333", "accent": "#0b5cd5"}},
        )
    assert "banner.theme.text" in refused.value.errors
    site = registry.register_site(
        ctx,
        name="Dark shop",
        origins=["https://dark.example"],
        purposes=["analytics", "ads"],
        cookies=["_ga"],
        banner={
            "languages": ["de"],
            "links": {"privacy": "https://dark.example/datenschutz"},
            "texts": {"de": {"accept": "Alles erlauben"}},
            "consent_mode": {"enabled": True, "mapping": {"analytics_storage": ["analytics"]}},
        },
    )
    assert site["banner"]["languages"] == ["de"] and site["banner"]["theme"]["accent"] == "#0b5cd5"
    response = client.get(
        f"/v1/public/sites/{site['site_key']}?lang=en", headers={"Origin": "https://dark.example"}
    )
    body = response.get_json()
    assert body["language"] == "de" and body["texts"]["accept"] == "Alles erlauben"
    assert body["settings"]["links"]["privacy"] == "https://dark.example/datenschutz"
    assert body["settings"]["consent_mode"]["mapping"] == {"analytics_storage": ["analytics"]}
    changed = sites.change_site_offer(
        ctx,
        site["id"],
        name="Dark shop",
        origins=["https://dark.example"],
        purposes=["analytics"],
        cookies=[],
    )
    assert changed["banner"]["languages"] == ["de"], "no banner argument keeps the settings"


def test_a_purpose_that_rests_on_consent_cannot_be_strictly_necessary(client, admin, demo):
    from consent_service.demo import DEMO_PURPOSES

    spec = {**DEMO_PURPOSES["analytics"], "strictly_necessary": True}
    problem = assert_problem(client.put("/v1/purposes/analytics", headers=admin, json=spec), 422)
    assert "strictly_necessary" in problem["errors"], problem
    listed = {p["key"]: p for p in client.get("/v1/purposes", headers=admin).get_json()}
    assert listed["analytics"]["strictly_necessary"] is False, "a refused change writes nothing"


def test_the_cached_config_varies_by_origin(client, demo):
    for headers in ({}, {"Origin": ORIGIN}):
        response = client.get(f"/v1/public/sites/{demo['site']['site_key']}", headers=headers)
        assert "Origin" in response.headers["Vary"], headers
