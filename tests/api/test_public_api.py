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
    all_headers = list(all_headers.items()) + list(
        dict(headers).items() if isinstance(headers, dict) else headers or []
    )
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


# True: a client granting what the signal refuses; False: the service's banner, which refuses
# it itself when it sees the signal (so that nothing is granted where the header does not arrive)
@pytest.mark.parametrize("granted", [True, False])
def test_accept_all_does_not_override_gpc_for_honor_gpc_purposes_and_their_cookies(
    client, site, ctx, granted
):
    response = banner(
        client,
        site,
        headers={"Sec-GPC": "1"},
        method="accept_all",
        decisions=[
            {"purpose": "analytics", "granted": granted},
            {"purpose": "newsletter", "granted": True},
            {"cookie": "_ga", "granted": granted},
            {"cookie": "session", "granted": True},
        ],
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    decided = {(e["purpose"] or e["cookie"], e["decision"], e["method"]) for e in body["events"]}
    assert decided == {
        ("analytics", "denied", "gpc"),
        ("newsletter", "granted", "accept_all"),
        ("_ga", "denied", "gpc"),
        ("session", "granted", "accept_all"),
        ("ads", "denied", "gpc"),
    }
    assert body["gpc_denied"] == {"purposes": ["ads", "analytics"], "cookies": ["_ga"]}
    kinds = {
        (item["cookie"] or item["purpose"]): item["consentType"]
        for item in body["receipt"]["payload"]["services"][0]["purposes"]
    }
    assert kinds == {"analytics": "SIGNAL", "ads": "SIGNAL", "_ga": "SIGNAL"} | {
        "newsletter": "EXPLICIT",
        "session": "EXPLICIT",
    }
    assert queries.decide_one(ctx, body["subject_id"], "analytics").reason == "consent_denied"


def test_with_gpc_only_the_persons_choice_in_the_settings_grants_and_reject_all_stays_a_denial(client, site):
    custom = banner(
        client,
        site,
        headers={"Sec-GPC": "1"},
        method="custom",
        decisions=[{"purpose": "analytics", "granted": True}, {"cookie": "_fbp", "granted": True}],
    ).get_json()
    decided = {(e["purpose"] or e["cookie"], e["decision"], e["method"]) for e in custom["events"]}
    assert decided == {
        ("analytics", "granted", "custom"),
        ("_fbp", "granted", "custom"),
        ("ads", "denied", "gpc"),
    }
    assert custom["gpc_denied"] == {"purposes": ["ads"], "cookies": []}
    rejected = banner(
        client,
        site,
        subject={"type": "device_id", "value": "dev-2"},
        headers={"Sec-GPC": "1"},
        method="reject_all",
        decisions=[{"purpose": "analytics", "granted": False}, {"purpose": "newsletter", "granted": False}],
    ).get_json()
    decided = {(e["purpose"], e["decision"], e["method"]) for e in rejected["events"]}
    assert decided == {
        ("analytics", "denied", "reject_all"),
        ("newsletter", "denied", "reject_all"),
        ("ads", "denied", "gpc"),
    }
    assert rejected["gpc_denied"] == {"purposes": ["ads"], "cookies": []}


def test_without_the_signal_accept_all_grants_and_nothing_is_a_gpc_denial(client, site, ctx):
    for value in (None, "0", "true", "01", ""):
        headers = {} if value is None else {"Sec-GPC": value}
        body = banner(client, site, headers=headers, method="accept_all").get_json()
        assert [(e["purpose"], e["decision"], e["method"]) for e in body["events"]] == [
            ("analytics", "granted", "accept_all")
        ], value
        assert body["gpc_denied"] == {"purposes": [], "cookies": []}
        assert queries.history(ctx, body["subject_id"])["events"][-1]["proof"]["gpc"] is False


def test_the_signal_is_read_as_the_specification_defines_it(client, site, ctx):
    for headers in ({"Sec-GPC": " 1 "}, [("Sec-GPC", "0"), ("Sec-GPC", "1")], {"Sec-GPC": "1, 1"}):
        body = banner(client, site, headers=headers, method="accept_all").get_json()
        assert body["gpc_denied"] == {"purposes": ["ads", "analytics"], "cookies": []}, headers
        assert queries.history(ctx, body["subject_id"])["events"][-1]["proof"]["gpc"] is True


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
