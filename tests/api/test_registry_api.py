"""Purposes (versioned) and cookies through the API."""

from tests.api.helpers import assert_problem

PURPOSE = {
    "titles": {"en": "Product news", "de": "Produktneuigkeiten"},
    "descriptions": {"en": "Emails about products.", "de": "E-Mails über Produkte."},
    "legal_basis": "consent",
    "data_categories": ["user.contact.email"],
    "data_uses": ["marketing.communications.email"],
    "retention_period": "P2Y",
    "direct_marketing": True,
}


def test_purpose_create_update_and_versions(client, admin):
    created = client.put("/v1/purposes/product_news", headers=admin, json=PURPOSE)
    assert created.status_code == 201
    first = created.get_json()
    assert first["version"] == 1 and first["consent_validity"] == "P12M" and len(first["content_hash"]) == 64

    same = client.put("/v1/purposes/product_news", headers=admin, json=PURPOSE)
    assert same.status_code == 200 and same.get_json()["version"] == 1 and not same.get_json()["new_version"]

    settings_only = client.put(
        "/v1/purposes/product_news", headers=admin, json={**PURPOSE, "consent_validity": "P6M"}
    )
    assert settings_only.get_json()["version"] == 1 and settings_only.get_json()["consent_validity"] == "P6M"

    changed = {**PURPOSE, "titles": {"en": "Product and offer news", "de": "Produkt- und Angebotsnews"}}
    second = client.put("/v1/purposes/product_news", headers=admin, json=changed).get_json()
    assert (
        second["version"] == 2 and second["new_version"] and second["content_hash"] != first["content_hash"]
    )

    shown = client.get("/v1/purposes/product_news", headers=admin).get_json()
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["versions"][0]["titles"]["en"] == "Product news"
    assert shown["versions"][0]["content_hash"] == first["content_hash"]

    listed = client.get("/v1/purposes", headers=admin).get_json()
    assert [p["key"] for p in listed] == ["product_news"]


def test_purpose_rules_are_422_with_field_errors(client, admin):
    body = assert_problem(
        client.put(
            "/v1/purposes/x",
            headers=admin,
            json={**PURPOSE, "data_categories": ["user.made_up"], "consent_validity": "P2Y"},
        ),
        422,
    )
    assert set(body["errors"]) == {"data_categories", "consent_validity"}
    body = assert_problem(
        client.put("/v1/purposes/x", headers=admin, json={**PURPOSE, "legal_basis": "vibes"}), 422
    )
    assert "legal_basis" in body["errors"]
    assert_problem(
        client.put("/v1/purposes/Not%20A%20Key", headers=admin, json=PURPOSE), 404
    )  # no key matches the path
    assert_problem(client.put("/v1/purposes/x", headers=admin, json={**PURPOSE, "extra": 1}), 422)
    assert_problem(client.get("/v1/purposes/x", headers=admin), 404)


def test_cookies(client, admin):
    client.put("/v1/purposes/stats", headers=admin, json={**PURPOSE, "data_uses": ["analytics.reporting"]})
    cookie = {"domain": ".shop.example", "provider": "Shop", "duration": "P13M", "purpose": "stats"}
    assert client.put("/v1/cookies/_stats", headers=admin, json=cookie).status_code == 201
    assert (
        client.put("/v1/cookies/_stats", headers=admin, json={**cookie, "provider": "Shop GmbH"}).status_code
        == 200
    )
    listed = client.get("/v1/cookies", headers=admin).get_json()
    assert listed[0]["name"] == "_stats" and listed[0]["provider"] == "Shop GmbH"
    body = assert_problem(
        client.put("/v1/cookies/_x", headers=admin, json={**cookie, "purpose": "ghost"}), 404
    )
    assert "purpose" in body["errors"] and body["type"].endswith("/unknown-reference")
    assert_problem(client.put("/v1/cookies/_x", headers=admin, json={**cookie, "duration": "forever"}), 422)
    assert (
        client.put("/v1/cookies/sess", headers=admin, json={**cookie, "duration": "session"}).status_code
        == 201
    )
