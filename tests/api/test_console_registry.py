"""The registry pages of the console through the test client: purposes (a new version on every
change of the texts, the comparison of two versions), cookies, sites and recipients; form errors
from the service next to the fields; reading for every role, writing for DPO and admin only."""

from __future__ import annotations

import re
from typing import Any

import pytest

from consent_service import create_app
from consent_service.dsar import recipients
from consent_service.registry import service as registry
from consent_service.registry import sites
from consent_service.registry.models import Purpose
from tests.console_helpers import DPO, PASSWORD, add_staff, form_values, sign_in, token

EN = {"Accept-Language": "en"}
PURPOSE_FORM = {
    "key": "newsletter",
    "title_en": "Newsletter",
    "title_de": "Newsletter",
    "description_en": "We send you our newsletter. It comes once a month.",
    "description_de": "Wir senden Ihnen unseren Newsletter. Er kommt einmal im Monat.",
    "legal_basis": "consent",
    "data_categories": "user.contact.email",
    "data_uses": "marketing.communications.email",
    "consent_validity": "P12M",
}
PURPOSE = {
    "titles": {"en": "Analytics", "de": "Statistik"},
    "descriptions": {"en": "We count visits.", "de": "Wir zählen Besuche."},
    "legal_basis": "consent",
    "data_categories": ["user.device.cookie_id"],
    "data_uses": ["analytics.reporting"],
}
LIST_PAGES = (
    "/console/registry",
    "/console/registry/purposes",
    "/console/registry/cookies",
    "/console/registry/sites",
    "/console/registry/recipients",
)


@pytest.fixture
def app(clocked_ctx):
    add_staff(clocked_ctx)
    for role in ("admin", "agent", "auditor"):
        add_staff(clocked_ctx, f"{role}@example.org", role)
    return create_app(context=clocked_ctx)


@pytest.fixture
def client(app):
    client = app.test_client()
    sign_in(client)
    return client


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def post(client: Any, path: str, data: dict[str, Any]) -> Any:
    """Submit the form at ``path`` with its CSRF token."""
    page = client.get(path, headers=EN)
    return client.post(path, data={"csrf_token": token(text(page)), **data}, headers=EN)


def submit(client: Any, path: str, changes: dict[str, Any], headers: dict[str, str] = EN) -> Any:
    """Submit the form at ``path`` as the page shows it, with ``changes`` made (as a person would)."""
    page = text(client.get(path, headers=headers))
    data: dict[str, Any] = {**form_values(page), **changes, "csrf_token": token(page)}
    return client.post(path, data=data, headers=headers)


def error_of(html: str, field: str) -> str:
    found = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert found, f"no error next to {field}"
    return found.group(1)


def test_a_dpo_creates_a_purpose_and_each_edit_of_its_text_makes_a_version(client, clocked_ctx):
    form = client.get("/console/registry/purposes/new", headers=EN)
    assert form.status_code == 200 and "starts with version 1" in text(form)
    created = post(client, "/console/registry/purposes/new", PURPOSE_FORM)
    assert created.status_code == 302
    assert created.headers["Location"].endswith("/console/registry/purpose/newsletter?saved=created")
    shown = registry.read_purpose(clocked_ctx, "newsletter")
    assert shown["version"] == 1 and shown["titles"] == {"en": "Newsletter", "de": "Newsletter"}
    assert shown["data_uses"] == ["marketing.communications.email"]

    edit = text(client.get("/console/registry/purpose/newsletter/edit", headers=EN))
    assert "makes version 2" in edit and "It comes once a month." in edit
    changed = {**PURPOSE_FORM, "description_en": "We send you our newsletter. It comes every week."}
    changed.pop("key")
    saved = post(client, "/console/registry/purpose/newsletter/edit", changed)
    assert saved.status_code == 302 and saved.headers["Location"].endswith("saved=new")
    shown = registry.read_purpose(clocked_ctx, "newsletter")
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["versions"][0]["descriptions"]["en"].endswith("once a month.")
    page = text(client.get(saved.headers["Location"], headers=EN))
    assert "The change made version 2" in page and "Version 1" in page and "It comes every week." in page

    # a setting that is not part of the texts changes the purpose without a version
    same = post(client, "/console/registry/purpose/newsletter/edit", {**changed, "consent_validity": "P6M"})
    assert same.headers["Location"].endswith("saved=same")
    assert registry.read_purpose(clocked_ctx, "newsletter")["version"] == 2


def test_the_comparison_shows_the_changed_sentence_side_by_side(client, clocked_ctx):
    registry.save_purpose(clocked_ctx, "analytics", PURPOSE)
    registry.save_purpose(
        clocked_ctx,
        "analytics",
        {
            **PURPOSE,
            "descriptions": {"en": "We count visits. We keep them for a year.", "de": "Wir zählen Besuche."},
        },
    )
    page = client.get("/console/registry/purpose/analytics/diff", headers=EN)
    assert page.status_code == 200
    html = text(page)
    assert '<option selected value="1">' in html and '<option selected value="2">' in html
    english = html[html.index("Description (English)") : html.index("Description (German)")]
    assert english.count('<tr class="same">') == 1  # "We count visits." is in both
    added = re.search(r'<tr class="added">(.*?)</tr>', english, re.S)
    assert added, english
    assert "Added:" in added.group(1) and "We keep them for a year." in added.group(1)
    assert "(not in this version)" in added.group(1)  # the left side is empty
    german = html[html.index("Description (German)") :]
    assert "(unchanged)" in german.split("</caption>")[0]

    # versions chosen by the GET form; a changed sentence shows its removed and added words
    registry.save_purpose(
        clocked_ctx,
        "analytics",
        {
            **PURPOSE,
            "descriptions": {
                "en": "We count visits. We keep them for two years.",
                "de": "Wir zählen Besuche.",
            },
        },
    )
    html = text(client.get("/console/registry/purpose/analytics/diff?a=2&b=3", headers=EN))
    row = re.search(r'<tr class="changed">(.*?)</tr>', html, re.S)
    assert row, html
    assert "Changed, before:" in row.group(1) and "Changed, after:" in row.group(1)
    assert "<del>a year.</del>" in row.group(1) and "<ins>two years.</ins>" in row.group(1)
    # nonsense in the query: the latest two versions, not an error
    assert client.get("/console/registry/purpose/analytics/diff?a=x&b=99", headers=EN).status_code == 200


def test_bad_input_is_shown_next_to_the_field_and_writes_nothing(client, clocked_ctx):
    bad = {**PURPOSE_FORM, "data_categories": "user.made_up", "consent_validity": "P2Y"}
    answer = post(client, "/console/registry/purposes/new", bad)
    assert answer.status_code == 422
    html = text(answer)
    assert "Not in the fideslang taxonomy: user.made_up" in error_of(html, "data_categories")
    assert "At most P13M" in error_of(html, "consent_validity")
    assert 'class="summary"' in html and 'href="#data_categories"' in html
    assert registry.read_purposes(clocked_ctx) == []

    missing = post(
        client, "/console/registry/purposes/new", {**PURPOSE_FORM, "title_de": "", "key": "Not A Key"}
    )
    assert missing.status_code == 422
    assert error_of(text(missing), "title_de") == "Enter a title."
    assert "Use 1 to 64" in error_of(text(missing), "key")

    # automated decisions described in one language only: the registry asks for the other
    half = post(client, "/console/registry/purposes/new", {**PURPOSE_FORM, "logic_en": "A score decides."})
    assert half.status_code == 422 and "Missing language(s): de" in error_of(text(half), "logic_en")
    assert registry.read_purposes(clocked_ctx) == []

    registry.save_purpose(clocked_ctx, "newsletter", PURPOSE)
    twice = post(client, "/console/registry/purposes/new", PURPOSE_FORM)
    assert twice.status_code == 422 and "already registered" in error_of(text(twice), "key")
    assert registry.read_purpose(clocked_ctx, "newsletter")["titles"]["en"] == "Analytics"  # not overwritten

    # once consent was collected, the legal basis stays consent (a conflict, shown at the field)
    with clocked_ctx.uow() as uow:
        uow.session.get(Purpose, "newsletter").consent_collected_at = clocked_ctx.now()
        uow.commit()
    swap = {**PURPOSE_FORM, "legal_basis": "legitimate_interests"}
    swap.pop("key")
    refused = post(client, "/console/registry/purpose/newsletter/edit", swap)
    assert refused.status_code == 422 and "stays consent" in error_of(text(refused), "legal_basis")
    assert registry.read_purpose(clocked_ctx, "newsletter")["legal_basis"] == "consent"

    german = client.get("/console/registry/purposes/new", headers={"Accept-Language": "de"})
    answer = client.post(
        "/console/registry/purposes/new",
        data={"csrf_token": token(text(german)), **bad, "key": "other"},
        headers={"Accept-Language": "de"},
    )
    assert "Nicht in der fideslang-Taxonomie: user.made_up" in error_of(text(answer), "data_categories")


def test_cookies_sites_and_recipients_are_created_and_changed(client, clocked_ctx):
    registry.save_purpose(clocked_ctx, "analytics", PURPOSE)
    cookie = {
        "name": "_pk_id",
        "domain": ".shop.example",
        "provider": "Matomo",
        "duration": "P13M",
        "purpose": "analytics",
        "description": "Counts visits",
    }
    assert post(client, "/console/registry/cookies/new", cookie).status_code == 302
    assert registry.read_cookie(clocked_ctx, "_pk_id")["provider"] == "Matomo"
    bad = post(client, "/console/registry/cookie/_pk_id/edit", {**cookie, "duration": "forever"})
    assert bad.status_code == 422 and "ISO 8601" in error_of(text(bad), "duration")
    assert (
        post(client, "/console/registry/cookie/_pk_id/edit", {**cookie, "duration": "session"}).status_code
        == 302
    )
    listed = text(client.get("/console/registry/cookies", headers=EN))
    assert "_pk_id" in listed and "Matomo" in listed and "session" in listed

    site = {
        "name": "Shop",
        "origins": "https://shop.example\nhttps://www.shop.example",
        "purposes": ["analytics"],
    }
    assert submit(client, "/console/registry/sites/new", site).status_code == 302
    (created,) = sites.read_sites(clocked_ctx)
    assert created["allowed_origins"] == ["https://shop.example", "https://www.shop.example"]
    edit = f"/console/registry/site/{created['id']}/edit"
    wrong = submit(client, edit, {**site, "origins": "shop.example"})
    assert wrong.status_code == 422 and "is not an origin" in error_of(text(wrong), "origins")
    assert (
        submit(client, edit, {**site, "cookies": ["_pk_id"], "origins": "https://shop.example"}).status_code
        == 302
    )
    changed = sites.read_site(clocked_ctx, created["id"])
    assert changed["cookies"] == ["_pk_id"] and changed["allowed_origins"] == ["https://shop.example"]
    assert changed["site_key"] == created["site_key"]
    assert registry.banner_config(clocked_ctx, created["site_key"])["cookies"][0]["name"] == "_pk_id"
    listed = text(client.get("/console/registry/sites", headers=EN))
    assert "https://shop.example" in listed and created["site_key"] in listed

    recipient = {
        "key": "crm",
        "name": "CRM GmbH",
        "endpoint": "http://127.0.0.1:9/hooks",
        "secret": "s" * 20,
        "events": ["erasure"],
        "country": "US",
        "safeguard": "",
    }
    outside = post(client, "/console/registry/recipients/new", recipient)
    assert outside.status_code == 422 and "outside the EEA" in error_of(text(outside), "safeguard")
    assert recipients.list_recipients(clocked_ctx) == []
    fine = {**recipient, "safeguard": "standard_contractual_clauses"}
    assert post(client, "/console/registry/recipients/new", fine).status_code == 302
    kept = {**fine, "secret": "", "name": "CRM Inc."}
    kept.pop("key")
    assert post(client, "/console/registry/recipient/crm/edit", kept).status_code == 302
    assert recipients.get_recipient(clocked_ctx, "crm")["name"] == "CRM Inc."
    listed = text(client.get("/console/registry/recipients", headers=EN))
    assert "CRM Inc." in listed and "United States" in listed and "standard contractual clauses" in listed
    assert "s" * 20 not in text(client.get("/console/registry/recipient/crm/edit", headers=EN))


@pytest.mark.parametrize("role", ["agent", "auditor"])
def test_agent_and_auditor_read_every_page_and_get_403_on_every_change(app, clocked_ctx, role):
    registry.save_purpose(clocked_ctx, "analytics", PURPOSE)
    registry.save_purpose(clocked_ctx, "analytics", {**PURPOSE, "titles": {"en": "Stats", "de": "Statistik"}})
    registry.save_cookie(
        clocked_ctx, "_pk_id", {"domain": ".x", "provider": "M", "duration": "P1Y", "purpose": "analytics"}
    )
    site = sites.register_site(
        clocked_ctx, name="Shop", origins=["https://shop.example"], purposes=[], cookies=[]
    )
    reader = app.test_client()
    sign_in(reader, f"{role}@example.org", PASSWORD)
    for path in (
        *LIST_PAGES,
        "/console/registry/purpose/analytics",
        "/console/registry/purpose/analytics/diff",
    ):
        page = reader.get(path, headers=EN)
        assert page.status_code == 200, path
        assert "New purpose" not in text(page) and "/edit" not in text(page), path
    csrf = token(text(reader.get("/console/registry", headers=EN)))
    for path in (
        "/console/registry/purposes/new",
        "/console/registry/purpose/analytics/edit",
        "/console/registry/cookies/new",
        "/console/registry/cookie/_pk_id/edit",
        "/console/registry/sites/new",
        f"/console/registry/site/{site['id']}/edit",
        "/console/registry/recipients/new",
        "/console/registry/recipient/crm/edit",
    ):
        assert reader.post(path, data={"csrf_token": csrf, **PURPOSE_FORM}).status_code == 403, path
        assert reader.get(path).status_code == 403, path
    assert registry.read_purpose(clocked_ctx, "analytics")["version"] == 2


@pytest.mark.parametrize("role", ["admin", "dpo", "agent", "auditor"])
def test_every_list_page_renders_empty_with_a_hint_for_every_role(app, role):
    reader = app.test_client()
    sign_in(reader, "dpo@example.org" if role == "dpo" else f"{role}@example.org", PASSWORD)
    for path in LIST_PAGES:
        page = reader.get(path, headers=EN)
        assert page.status_code == 200, path
        assert 'aria-current="page">Registry</a>' in text(page), path
    assert "No purposes yet." in text(reader.get("/console/registry/purposes", headers=EN))
    assert "register the purposes first" in text(reader.get("/console/registry/cookies", headers=EN))
    assert "No sites yet." in text(reader.get("/console/registry/sites", headers=EN))
    assert "No recipients yet." in text(reader.get("/console/registry/recipients", headers=EN))
    german = text(reader.get("/console/registry/purposes", headers={"Accept-Language": "de"}))
    assert '<html lang="de">' in german and "Zwecke" in german


def test_an_unknown_purpose_cookie_or_site_is_a_page_not_found(client):
    for path in (
        "/console/registry/purpose/nothing",
        "/console/registry/purpose/nothing/diff",
        "/console/registry/purpose/nothing/edit",
        "/console/registry/cookie/nothing/edit",
        "/console/registry/site/site_0/edit",
        "/console/registry/recipient/nothing/edit",
    ):
        answer = client.get(path, headers=EN)
        assert answer.status_code == 404 and "Page not found" in text(answer), path


def test_every_registry_change_is_in_the_audit_log_with_who_made_it(client, app, clocked_ctx):
    """The console's changes carry the staff account, the API's its client; each entry is written
    in the change's own transaction, and the log's chain verifies."""
    from consent_service.auditlog.service import entries, verify
    from consent_service.auth.service import register_client
    from consent_service.registry.service import REGISTRY_LOG
    from consent_service.staff.service import find_user

    assert post(client, "/console/registry/purposes/new", PURPOSE_FORM).status_code == 302
    cookie = {"name": "_pk_id", "domain": ".shop.example", "provider": "Matomo", "duration": "P13M"}
    assert (
        post(client, "/console/registry/cookies/new", cookie | {"purpose": "newsletter"}).status_code == 302
    )
    site = {"name": "Shop", "origins": "https://shop.example", "purposes": ["newsletter"]}
    assert submit(client, "/console/registry/sites/new", site).status_code == 302
    client_id, api_token = register_client(clocked_ctx, "crm", ["registry:write"])
    api = app.test_client().put(
        "/v1/cookies/_ga",
        headers={"Authorization": f"Bearer {api_token}"},
        json={"domain": ".shop.example", "provider": "Google", "duration": "P13M", "purpose": "newsletter"},
    )
    assert api.status_code == 201, api.get_data(as_text=True)
    dpo = find_user(clocked_ctx, DPO)["id"]
    with clocked_ctx.uow(write=False) as uow:
        logged = [(e["actor"], e["action"]) for e in entries(uow.session, REGISTRY_LOG)]
        assert verify(uow.session, REGISTRY_LOG).ok
    assert logged == [
        (dpo, "purpose_created"),
        (dpo, "cookie_created"),
        (dpo, "site_created"),
        (client_id["id"], "cookie_created"),
    ]
