"""``/v1/retention/rules``: versioned rules, retirement, and 422s that name the bad field."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from consent_service.retention.models import RetentionRule, RetentionRuleVersion
from tests.api.helpers import assert_problem, crm_store


def rule(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "Customers who stopped buying",
        "applies_to": {"store": "crm", "collection": "customers"},
        "period": "P3Y",
        "trigger": {"type": "last_activity", "field": "last_order_at"},
        "action": "anonymise",
    }
    body.update(changes)
    return body


@pytest.fixture
def crm(client, admin, tmp_path) -> str:
    return crm_store(client, admin, tmp_path)


def put(client, admin, body, key="crm-inactive"):
    return client.put(f"/v1/retention/rules/{key}", headers=admin, json=body)


def admin_id(ctx, headers) -> str:
    from consent_service.auth.service import principal_for_token

    who = principal_for_token(ctx, headers["Authorization"].removeprefix("Bearer "))
    assert who is not None
    return who.id


def test_put_creates_then_versions_and_get_shows_every_version(client, admin, demo, crm, ctx):
    created = put(client, admin, rule())
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert (body["outcome"], body["version"], body["active"]) == ("created", 1, True)
    assert body["in_words"] == "P3Y after the last activity (last_order_at), then anonymised"

    again = put(client, admin, rule())
    assert again.status_code == 200
    assert (again.get_json()["outcome"], again.get_json()["version"]) == ("unchanged", 1)

    reordered = rule(applies_to={"collection": "customers", "store": "crm"})
    assert put(client, admin, reordered).get_json()["outcome"] == "unchanged"

    changed = put(client, admin, rule(period="P2Y"))
    assert changed.status_code == 200
    assert (changed.get_json()["outcome"], changed.get_json()["version"]) == ("new_version", 2)

    shown = client.get("/v1/retention/rules/crm-inactive", headers=admin).get_json()
    assert shown["version"] == 2 and shown["period"] == "P2Y"
    assert [(v["version"], v["period"]) for v in shown["versions"]] == [(1, "P3Y"), (2, "P2Y")]
    assert {v["created_by"] for v in shown["versions"]} == {admin_id(ctx, admin)}
    assert shown["versions"][0]["content_hash"] != shown["versions"][1]["content_hash"]
    assert "outcome" not in shown


def test_one_rule_per_trigger_type(client, admin, demo, crm):
    bodies = {
        "created": rule(trigger={"type": "since_field", "field": "created_at"}, action="delete"),
        "activity": rule(),
        "contract": rule(trigger={"type": "contract_end", "field": "contract_ended_at"}),
        "newsletter": rule(
            applies_to={"purpose": "newsletter"},
            period="P30D",
            trigger={"type": "consent_ended"},
            action="crypto_shred",
        ),
        "category": rule(
            applies_to={"category": "user.contact"},
            trigger={"type": "consent_ended", "purpose": "newsletter"},
        ),
    }
    for key, body in bodies.items():
        response = put(client, admin, body, key=key)
        assert response.status_code == 201, (key, response.get_data(as_text=True))
    words = {r["key"]: r["in_words"] for r in client.get("/v1/retention/rules", headers=admin).get_json()}
    assert words["newsletter"] == (
        "P30D after consent to newsletter ended (withdrawn, refused or expired), then made unreadable"
    )
    assert words["contract"] == "P3Y after the end of the contract (contract_ended_at), then anonymised"
    assert words["created"] == "P3Y after the record's created_at, then deleted"


def test_retire_hides_a_rule_from_the_list_and_a_put_reactivates_it(client, admin, demo, crm):
    put(client, admin, rule())
    put(client, admin, rule(), key="other")
    deleted = client.delete("/v1/retention/rules/crm-inactive", headers=admin)
    assert deleted.status_code == 204 and deleted.get_data() == b""

    listed = client.get("/v1/retention/rules", headers=admin).get_json()
    assert [r["key"] for r in listed] == ["other"]
    everything = client.get("/v1/retention/rules?include_retired=true", headers=admin).get_json()
    assert [(r["key"], r["active"]) for r in everything] == [("crm-inactive", False), ("other", True)]
    assert client.get("/v1/retention/rules/crm-inactive", headers=admin).get_json()["active"] is False

    back = put(client, admin, rule())
    assert back.status_code == 200
    assert (back.get_json()["outcome"], back.get_json()["version"], back.get_json()["active"]) == (
        "reactivated",
        1,
        True,
    )
    assert [r["key"] for r in client.get("/v1/retention/rules", headers=admin).get_json()] == [
        "crm-inactive",
        "other",
    ]


def test_unknown_rules_are_404(client, admin):
    assert_problem(client.get("/v1/retention/rules/nope", headers=admin), 404)
    assert_problem(client.delete("/v1/retention/rules/nope", headers=admin), 404)


HTTP_STORE = {
    "type": "http",
    "connection": {"endpoint": "https://localhost/shop-dsar", "secret": "http-shared-secret-0123456789"},
    "collections": {
        "orders": {"identities": {"email": "email"}, "fields": {"email": {"category": "user.contact.email"}}}
    },
}


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"applies_to": {"purpose": "lottery"}},
            {"applies_to.purpose": ["no purpose 'lottery' is registered"]},
        ),
        (
            {"applies_to": {"store": "erp"}},
            {"applies_to.store": ["no store 'erp' is registered"]},
        ),
        (
            {"applies_to": {"store": "crm", "collection": "invoices"}},
            {"applies_to.collection": ["store 'crm' has no collection 'invoices'"]},
        ),
        (
            {"trigger": {"type": "consent_ended", "purpose": "lottery"}},
            {"trigger.purpose": ["no purpose 'lottery' is registered"]},
        ),
    ],
)
def test_rules_naming_what_is_not_registered_are_404(client, admin, demo, crm, ctx, changes, errors):
    body = assert_problem(put(client, admin, rule(**changes)), 404)
    assert body["errors"] == errors and body["type"].endswith("/unknown-reference")
    with ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(RetentionRule)) == 0


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        (
            {"applies_to": {"category": "user.shoe_size"}},
            {"applies_to.category": ["unknown data category 'user.shoe_size'"]},
        ),
        (
            {"applies_to": {"collection": "customers"}},
            {"applies_to.collection": ["name the store of the collection too"]},
        ),
        (
            {"period": "3 years"},
            {"period": ["'3 years' is not an ISO 8601 duration such as P12M or P30D"]},
        ),
        (
            {"trigger": {"type": "since_field"}},
            {"trigger.field": ["since_field needs the name of the record's timestamp field"]},
        ),
        (
            {"trigger": {"type": "consent_ended", "field": "created_at", "purpose": "newsletter"}},
            {"trigger.field": ["consent_ended runs from the consent's end, not from a field"]},
        ),
        (
            {"trigger": {"type": "consent_ended"}},
            {"trigger.purpose": ["name the purpose whose consent ending starts the period"]},
        ),
        (
            {"trigger": {"type": "last_activity", "field": "seen_at", "purpose": "newsletter"}},
            {"trigger.purpose": ["only consent_ended names a purpose; last_activity uses a field"]},
        ),
        ({"applies_to": {}}, {"applies_to": ["name at least one of purpose, category, store, collection"]}),
        ({"colour": "red"}, {"colour": ["Unknown field."]}),
        ({"applies_to": {"store": "crm", "table": "x"}}, {"applies_to": {"table": ["Unknown field."]}}),
        (
            {"trigger": {"type": "since_field", "field": "created_at", "when": "x"}},
            {"trigger": {"when": ["Unknown field."]}},
        ),
        (
            {"trigger": {"type": "forever"}},
            {
                "trigger": {
                    "type": ["Must be one of: since_field, last_activity, contract_end, consent_ended."]
                }
            },
        ),
        ({"action": "burn"}, {"action": ["Must be one of: delete, anonymise, crypto_shred."]}),
    ],
)
def test_bad_rules_are_422_with_the_field_that_is_wrong(client, admin, demo, crm, ctx, changes, errors):
    body = assert_problem(put(client, admin, rule(**changes)), 422)
    assert body["errors"] == errors
    with ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(RetentionRule)) == 0
        assert uow.session.scalar(select(func.count()).select_from(RetentionRuleVersion)) == 0


def test_a_rule_on_an_http_store_is_refused(client, admin, demo):
    assert client.put("/v1/stores/shop", headers=admin, json=HTTP_STORE).status_code == 201
    body = assert_problem(put(client, admin, rule(applies_to={"store": "shop"})), 422)
    assert list(body["errors"]) == ["applies_to.store"]
    assert "'shop' is a http store" in body["errors"]["applies_to.store"][0]


def test_missing_fields_are_422_and_a_path_that_is_no_key_is_404(client, admin, demo, crm):
    body = assert_problem(client.put("/v1/retention/rules/x", headers=admin, json={}), 422)
    assert set(body["errors"]) == {"applies_to", "period", "trigger", "action"}
    assert_problem(put(client, admin, rule(), key="Bad Key"), 404)


def test_rules_need_the_dsar_manage_scope(client, token, demo):
    assert_problem(client.get("/v1/retention/rules"), 401)
    assert_problem(client.put("/v1/retention/rules/x", json=rule()), 401)
    other = {"Authorization": f"Bearer {token('consent:read')}"}
    for method, path in [
        ("get", "/v1/retention/rules"),
        ("put", "/v1/retention/rules/x"),
        ("get", "/v1/retention/rules/x"),
        ("delete", "/v1/retention/rules/x"),
    ]:
        assert_problem(getattr(client, method)(path, headers=other, json=rule()), 403)
    manager = {"Authorization": f"Bearer {token('dsar:manage')}"}
    assert client.get("/v1/retention/rules", headers=manager).status_code == 200


def test_the_openapi_document_lists_the_rule_endpoints(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths["/v1/retention/rules/{key}"]) >= {"put", "get", "delete"}
    assert paths["/v1/retention/rules/{key}"]["put"]["summary"] == (
        "Create, change (new version) or reactivate a retention rule."
    )
