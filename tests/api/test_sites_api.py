"""``/v1/sites``: sites and their banner settings through the API, and the public configuration's
caching (ETag, Cache-Control, 304)."""

from __future__ import annotations

from typing import Any

from consent_service.auditlog.service import entries
from consent_service.registry import banner_settings
from consent_service.registry.sites import REGISTRY_LOG
from tests.api.helpers import assert_problem

SITE = {
    "name": "Tea shop",
    "origins": ["https://tea.example"],
    "purposes": ["analytics", "ads"],
    "cookies": ["_ga"],
}
BANNER = {
    "languages": ["de", "en"],
    "links": {"privacy": "https://tea.example/datenschutz", "imprint": "/impressum"},
    "theme": {"background": "#ffffff", "text": "#111111", "accent": "#0b5cd5"},
    "floating_button": False,
    "refusal_reask": "P3M",
    "texts": {"de": {"accept": "Alle erlauben"}},
    "consent_mode": {"enabled": True, "mode": "advanced", "mapping": {"analytics_storage": ["analytics"]}},
}


def create(client: Any, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/sites", headers=headers, json={**SITE, **changes})
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def logged(ctx: Any) -> list[tuple[str, dict[str, Any]]]:
    with ctx.uow(write=False) as uow:
        return [(e["action"], e["details"]) for e in entries(uow.session, REGISTRY_LOG)]


def test_a_site_is_created_listed_shown_and_replaced(client, admin, demo, ctx):
    site = create(client, admin, banner=BANNER)
    assert site["site_key"].startswith("pk_") and site["allowed_origins"] == ["https://tea.example"]
    assert site["banner"]["languages"] == ["de", "en"] and site["banner"]["floating_button"] is False
    assert site["banner"]["reask_after"] == banner_settings.DEFAULTS["reask_after"], "defaults filled in"
    assert site["banner"]["consent_mode"]["wait_for_update"] == 500
    listed = client.get("/v1/sites", headers=admin).get_json()
    assert [s["name"] for s in listed] == ["Demo shop", "Tea shop"]
    shown = client.get(f"/v1/sites/{site['id']}", headers=admin).get_json()
    assert shown == site
    put = client.put(
        f"/v1/sites/{site['id']}", headers=admin, json={**SITE, "name": "Tea house", "cookies": []}
    )
    assert put.status_code == 200, put.get_data(as_text=True)
    changed = put.get_json()
    assert changed["name"] == "Tea house" and changed["cookies"] == []
    assert changed["site_key"] == site["site_key"] and changed["banner"] == site["banner"], "banner kept"
    replaced = client.put(
        f"/v1/sites/{site['id']}", headers=admin, json={**SITE, "banner": {"floating_button": True}}
    ).get_json()
    assert replaced["banner"] == banner_settings.settings({"floating_button": True})


def test_the_banner_settings_alone_are_replaced(client, admin, demo):
    site = create(client, admin)
    assert site["banner"] == banner_settings.DEFAULTS
    put = client.put(f"/v1/sites/{site['id']}/banner", headers=admin, json=BANNER)
    assert put.status_code == 200, put.get_data(as_text=True)
    assert put.get_json()["banner"] == banner_settings.settings(BANNER)
    assert put.get_json()["purposes"] == SITE["purposes"] and put.get_json()["name"] == SITE["name"]
    again = client.put(f"/v1/sites/{site['id']}/banner", headers=admin, json={"languages": ["en"]})
    assert again.get_json()["banner"] == banner_settings.settings({"languages": ["en"]}), "a replacement"
    config = client.get(f"/v1/public/sites/{site['site_key']}?lang=de").get_json()
    assert config["language"] == "en"


def test_the_kept_settings_must_fit_a_changed_offer(client, admin, demo):
    site = create(client, admin, banner=BANNER)
    dropped = client.put(f"/v1/sites/{site['id']}", headers=admin, json={**SITE, "purposes": ["ads"]})
    problem = assert_problem(dropped, 422)
    assert problem["errors"] == {
        "banner.consent_mode.mapping.analytics_storage": ["not offered by this site: analytics"]
    }
    assert client.get(f"/v1/sites/{site['id']}", headers=admin).get_json() == site


def test_an_unknown_site_is_a_404(client, admin, demo):
    for method, path, body in (
        ("GET", "/v1/sites/site_0", None),
        ("PUT", "/v1/sites/site_0", SITE),
        ("PUT", "/v1/sites/site_0/banner", BANNER),
    ):
        problem = assert_problem(client.open(path, method=method, headers=admin, json=body), 404)
        assert "site_0" in problem["detail"]


def test_bad_settings_are_a_422_naming_each_field_and_write_nothing(client, admin, demo, ctx):
    site = create(client, admin, banner=BANNER)
    before = logged(ctx)
    bad = {
        "theme": {"background": "#000000", "text": "#222222", "accent": "#ffff00"},
        "reask_after": "P2Y",
        "consent_mode": {"mapping": {"ad_storage": ["newsletter"]}},
    }
    fields = {
        "banner.theme.text",
        "banner.theme.accent",
        "banner.reask_after",
        "banner.consent_mode.mapping.ad_storage",
    }
    problem = assert_problem(client.put(f"/v1/sites/{site['id']}/banner", headers=admin, json=bad), 422)
    assert set(problem["errors"]) == fields, problem
    problem = assert_problem(
        client.put(f"/v1/sites/{site['id']}", headers=admin, json={**SITE, "name": "Other", "banner": bad}),
        422,
    )
    assert set(problem["errors"]) == fields, problem
    problem = assert_problem(client.post("/v1/sites", headers=admin, json={**SITE, "banner": bad}), 422)
    assert set(problem["errors"]) == fields, problem
    schema = assert_problem(
        client.put(f"/v1/sites/{site['id']}/banner", headers=admin, json={"theme": {"text": "black"}}), 422
    )
    assert schema["errors"] == {"theme": {"text": ["a colour like #1f2328"]}}
    shown = client.get(f"/v1/sites/{site['id']}", headers=admin).get_json()
    assert shown == site, "a refused change writes nothing"
    assert [s["name"] for s in client.get("/v1/sites", headers=admin).get_json()] == ["Demo shop", "Tea shop"]
    assert logged(ctx) == before, "nor an audit entry"


def test_an_unregistered_purpose_is_an_unknown_reference(client, admin, demo):
    problem = assert_problem(
        client.post("/v1/sites", headers=admin, json={**SITE, "purposes": ["nope"]}), 404
    )
    assert problem["type"].endswith("unknown-reference") and set(problem["errors"]) == {"purposes"}
    both = assert_problem(
        client.post("/v1/sites", headers=admin, json={**SITE, "purposes": ["nope"], "name": " "}), 422
    )
    assert set(both["errors"]) == {"name"}, "the schema refuses a blank name before the registry is asked"


def test_writes_are_in_the_registry_audit_log_with_the_client(client, token, demo, ctx):
    from consent_service.auth.service import register_client

    client_id, secret = register_client(ctx, "cms", ["registry:write", "registry:read"])
    headers = {"Authorization": f"Bearer {secret}"}
    site = create(client, headers)
    client.put(f"/v1/sites/{site['id']}", headers=headers, json={**SITE, "cookies": []})
    client.put(f"/v1/sites/{site['id']}/banner", headers=headers, json={"floating_button": False})
    with ctx.uow(write=False) as uow:
        log = [e for e in entries(uow.session, REGISTRY_LOG) if e["details"].get("site") == site["id"]]
    assert [(e["actor"], e["action"]) for e in log] == [
        (client_id["id"], "site_created"),
        (client_id["id"], "site_changed"),
        (client_id["id"], "site_banner_changed"),
    ]
    assert log[2]["details"]["banner"] == {"floating_button": False}


def test_a_removed_site_is_gone_its_key_refused_and_its_consent_kept(client, admin, demo, ctx):
    from consent_service.ledger import queries

    site = create(client, admin)
    origin = {"Origin": SITE["origins"][0], "X-Site-Key": site["site_key"]}
    body = {
        "subject": {"type": "device_id", "value": "dev-gone"},
        "decisions": [{"purpose": "analytics", "granted": True}],
        "method": "accept_all",
    }
    recorded = client.post("/v1/public/consents", headers=origin, json=body)
    assert recorded.status_code == 201, recorded.get_data(as_text=True)
    assert client.delete(f"/v1/sites/{site['id']}", headers=admin).status_code == 204
    assert_problem(client.get(f"/v1/sites/{site['id']}", headers=admin), 404)
    assert_problem(client.delete(f"/v1/sites/{site['id']}", headers=admin), 404)
    assert_problem(client.get(f"/v1/public/sites/{site['site_key']}"), 404)
    assert_problem(client.post("/v1/public/consents", headers=origin, json=body), 401)
    history = queries.history(ctx, recorded.get_json()["subject_id"])
    assert [e["actor_id"] for e in history["events"]] == [site["id"]]  # the ledger keeps it
    with ctx.uow(write=False) as uow:
        log = [e for e in entries(uow.session, REGISTRY_LOG) if e["details"].get("site") == site["id"]]
    assert log[-1]["action"] == "site_deleted" and log[-1]["details"]["name"] == SITE["name"]


def test_reading_needs_registry_read_and_writing_registry_write(client, token, demo):
    reader = {"Authorization": f"Bearer {token('registry:read')}"}
    assert client.get("/v1/sites", headers=reader).status_code == 200
    assert_problem(client.post("/v1/sites", headers=reader, json=SITE), 403)
    site_id = demo["site"]["id"]
    assert_problem(client.put(f"/v1/sites/{site_id}/banner", headers=reader, json={}), 403)
    assert_problem(client.delete(f"/v1/sites/{site_id}", headers=reader), 403)
    other = {"Authorization": f"Bearer {token('consent:write')}"}
    assert_problem(client.get(f"/v1/sites/{site_id}", headers=other), 403)
    assert_problem(client.get("/v1/sites"), 401)


# The public configuration ----------------------------------------------------------------------


def test_the_public_config_has_an_etag_and_answers_304_when_it_matches(client, admin, demo):
    key = demo["site"]["site_key"]
    origin = {"Origin": "https://shop.example"}
    first = client.get(f"/v1/public/sites/{key}?lang=de", headers=origin)
    assert first.status_code == 200
    assert first.headers["Cache-Control"] == "public, no-cache"
    assert first.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and len(etag) > 10
    same = client.get(f"/v1/public/sites/{key}?lang=de", headers={**origin, "If-None-Match": etag})
    assert same.status_code == 304 and same.get_data() == b""
    assert same.headers["ETag"] == etag and same.headers["Cache-Control"] == "public, no-cache"
    assert same.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    weak = client.get(f"/v1/public/sites/{key}?lang=de", headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    english = client.get(f"/v1/public/sites/{key}?lang=en", headers={"If-None-Match": etag})
    assert english.status_code == 200 and english.headers["ETag"] != etag, "another language, another answer"
    put = client.put(f"/v1/sites/{demo['site']['id']}/banner", headers=admin, json={"floating_button": False})
    assert put.status_code == 200
    changed = client.get(f"/v1/public/sites/{key}?lang=de", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["settings"]["floating_button"] is False
