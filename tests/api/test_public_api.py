"""The banner endpoints: site key, origins, CORS preflight, GPC, rate limit."""

from __future__ import annotations

import pytest

from consent_service import create_app
from consent_service.ledger import queries
from tests.api.helpers import assert_problem

ORIGIN = "https://shop.example"


@pytest.fixture
def site(demo):
    return demo["site"]


def banner(client, site, *, origin=ORIGIN, headers=None, **body):
    payload = {
        "subject": {"type": "device_id", "value": "dev-1"},
        "decisions": [{"purpose": "analytics", "granted": True}],
        "method": "custom",
        "language": "de",
        "url": "https://shop.example/",
    }
    payload.update(body)
    all_headers = {"X-Site-Key": site["site_key"], "User-Agent": "Mozilla/5.0 test"}
    if origin:
        all_headers["Origin"] = origin
    all_headers.update(headers or {})
    return client.post("/v1/public/consents", headers=all_headers, json=payload)


def test_a_banner_records_device_consent_with_proof_from_the_request(client, site, ctx):
    response = banner(client, site)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    body = response.get_json()
    event = body["events"][0]
    assert event["channel"] == "banner" and event["actor_type"] == "site" and event["actor_id"] == site["id"]
    history = queries.history(ctx, body["subject_id"])
    proof = history["events"][0]["proof"]
    assert proof["user_agent"] == "Mozilla/5.0 test" and proof["ip"] == "127.0.0.0" and proof["gpc"] is False


def test_site_key_and_origin_are_checked(client, site):
    assert_problem(banner(client, {**site, "site_key": "pk_wrong"}), 401)
    assert_problem(banner(client, site, origin="https://evil.example"), 403)
    assert_problem(banner(client, site, origin=None), 403)


def test_banners_speak_only_for_device_ids_and_their_site_offer(client, site, admin):
    assert_problem(banner(client, site, subject={"type": "email", "value": "a@b.c"}), 422)
    client.put(
        "/v1/purposes/secret",
        headers=admin,
        json={
            "titles": {"en": "S", "de": "S"},
            "descriptions": {"en": "S", "de": "S"},
            "legal_basis": "consent",
            "data_categories": [],
            "data_uses": ["analytics.reporting"],
        },
    )
    body = assert_problem(banner(client, site, decisions=[{"purpose": "secret", "granted": True}]), 404)
    assert "decisions.0" in body["errors"]


def test_preflight_for_allowed_and_other_origins(client, site):
    ok = client.options(
        "/v1/public/consents",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-site-key",
        },
    )
    assert ok.status_code == 204
    assert ok.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-Site-Key" in ok.headers["Access-Control-Allow-Headers"]
    assert_problem(client.options("/v1/public/consents", headers={"Origin": "https://evil.example"}), 403)


def test_gpc_denies_honor_gpc_purposes_the_request_does_not_grant(client, site, ctx):
    response = banner(
        client, site, headers={"Sec-GPC": "1"}, decisions=[{"purpose": "newsletter", "granted": True}]
    )
    body = response.get_json()
    decided = {(e["purpose"], e["decision"], e["method"]) for e in body["events"]}
    assert decided == {
        ("newsletter", "granted", "custom"),
        ("analytics", "denied", "gpc"),
        ("ads", "denied", "gpc"),
    }
    assert queries.decide_one(ctx, body["subject_id"], "analytics").reason == "consent_denied"
    explicit = banner(
        client, site, headers={"Sec-GPC": "1"}, decisions=[{"purpose": "analytics", "granted": True}]
    )
    methods = {e["purpose"]: e["method"] for e in explicit.get_json()["events"]}
    assert methods == {"analytics": "custom", "ads": "gpc"}
    history = queries.history(ctx, body["subject_id"])
    assert history["events"][0]["proof"]["gpc"] is True


def test_banner_config_is_public(client, site):
    config = client.get(f"/v1/public/sites/{site['site_key']}", headers={"Origin": ORIGIN})
    assert config.status_code == 200 and config.headers["Access-Control-Allow-Origin"] == ORIGIN
    purposes = {p["key"]: p for p in config.get_json()["purposes"]}
    assert purposes["analytics"]["titles"]["de"] == "Website-Analyse"
    assert {c["name"] for c in config.get_json()["cookies"]} == {"session", "_ga", "_fbp"}
    assert_problem(client.get("/v1/public/sites/pk_nope"), 404)


def test_rate_limit_per_client_ip(ctx, demo):
    limited = create_app(context=ctx)
    ctx.config = ctx.config.with_overrides(public_rate_limit=3)
    client = limited.test_client()
    statuses = [
        banner(client, demo["site"], subject={"type": "device_id", "value": f"d{i}"}).status_code
        for i in range(5)
    ]
    assert statuses[:3] == [201, 201, 201]
    assert statuses[3:] == [429, 429]
    response = banner(client, demo["site"])
    assert_problem(response, 429)
    assert int(response.headers["Retry-After"]) > 0
