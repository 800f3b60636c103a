"""The gate reflects what requests decided (issue 10, section 4).

- an erasure kept under a legal hold leaves the person restricted: every purpose answers
  ``held`` but the hold's own purpose;
- an objection to direct marketing covers every direct-marketing purpose, also later ones;
- a purpose's legal basis cannot leave ``consent`` once consent was collected for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from consent_service import create_app
from consent_service.auth.service import register_client
from consent_service.context import Context
from consent_service.demo import DEMO_PURPOSES, seed
from consent_service.dsar import execution
from consent_service.registry.models import Purpose
from tests.api.helpers import assert_problem, consent_body, crm_store
from tests.conftest import make_context, param_database

TAX = {
    "titles": {"en": "Tax records", "de": "Steuerunterlagen"},
    "descriptions": {
        "en": "Invoices kept as tax law requires.",
        "de": "Rechnungen, wie das Steuerrecht es verlangt.",
    },
    "legal_basis": "legal_obligation",
    "data_categories": ["user.contact.email"],
    "data_uses": ["essential.service"],
}


@pytest.fixture(params=["sqlite", "postgres"])
def clocked_ctx(request, tmp_path, clock) -> Iterator[Context]:
    """The gate's SQL is the point here: every test runs on SQLite and on PostgreSQL."""
    context = make_context(param_database(request, tmp_path), tmp_path, clock=clock)
    yield context
    context.db.dispose()


@pytest.fixture
def client(clocked_ctx):
    seed(clocked_ctx)
    return create_app(context=clocked_ctx).test_client()


@pytest.fixture
def dpo(clocked_ctx) -> dict[str, str]:
    token = register_client(clocked_ctx, "dpo", ["dsar:manage", "registry:write", "registry:read"])[1]
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def shop(clocked_ctx) -> dict[str, str]:
    token = register_client(clocked_ctx, "shop", ["consent:write", "consent:read", "decisions:read"])[1]
    return {"Authorization": f"Bearer {token}"}


def record(client, shop, **body: Any) -> str:
    response = client.post("/v1/consents", headers=shop, json=consent_body(**body))
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["subject_id"])


def decide(client, shop, purpose: str, value: str = "anna@example.org") -> dict[str, Any]:
    response = client.post(
        "/v1/decisions", headers=shop, json={"subject": {"type": "email", "value": value}, "purpose": purpose}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json())


def decide_batch(client, shop, purpose: str, subject_id: str) -> dict[str, Any]:
    response = client.post(
        "/v1/decisions/batch", headers=shop, json={"purpose": purpose, "subjects": [subject_id]}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return dict(response.get_json()["results"][0])


def open_verified(client, dpo, kind: str, **body: Any) -> str:
    response = client.post(
        "/v1/requests",
        headers=dpo,
        json={
            "type": kind,
            "identities": [{"type": "email", "value": "anna@example.org"}],
            "verification": {"method": "dpo", "note": "ID card checked at the desk"},
        }
        | body,
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["id"])


def put_purpose(client, dpo, key: str, spec: dict[str, Any]):
    return client.put(f"/v1/purposes/{key}", headers=dpo, json=spec)


def test_an_erasure_kept_under_a_hold_lets_only_the_holds_purpose_continue(
    client, dpo, shop, clocked_ctx, tmp_path
):
    assert put_purpose(client, dpo, "tax_records", TAX).status_code == 201
    subject_id = record(client, shop)
    crm_store(client, dpo, tmp_path)
    hold = client.put(
        "/v1/holds/invoices-anna",
        headers=dpo,
        json={"scope": {"subject": subject_id}, "reason": "Invoices 2026", "purpose": "tax_records"},
    )
    assert hold.status_code == 201, hold.get_data(as_text=True)
    assert hold.get_json()["purpose"] == "tax_records"
    assert decide(client, shop, "newsletter")["reason"] == "consent_granted"

    erasure = open_verified(client, dpo, "erasure")
    result = execution.run_request(clocked_ctx, erasure, actor="test")
    assert result["request"]["state"] == "completed"

    for purpose in ("newsletter", "analytics", "essential"):  # consent and legitimate interests alike
        answer = decide(client, shop, purpose)
        assert (answer["allowed"], answer["reason"]) == (False, "held"), purpose
        assert decide_batch(client, shop, purpose, subject_id)["reason"] == "held", purpose
    kept = decide(client, shop, "tax_records")
    assert (kept["allowed"], kept["reason"]) == (True, "legal_basis")
    assert decide_batch(client, shop, "tax_records", subject_id)["allowed"] is True

    detail = client.get(f"/v1/requests/{erasure}", headers=dpo).get_json()
    assert {(x["purpose"], x["kind"]) for x in detail["in_force"]} == {
        ("*", "held"),
        ("tax_records", "held_for"),
    }
    lift = client.post(f"/v1/requests/{erasure}/lift", headers=dpo, json={"reason": "try"})
    assert "only restrictions and objections" in assert_problem(lift, 409)["detail"]


def test_a_hold_without_a_purpose_leaves_every_purpose_held(client, dpo, shop, clocked_ctx, tmp_path):
    subject_id = record(client, shop)
    crm_store(client, dpo, tmp_path)
    hold = {"scope": {"subject": subject_id}, "reason": "Litigation"}
    assert client.put("/v1/holds/case-1", headers=dpo, json=hold).status_code == 201
    erasure = open_verified(client, dpo, "erasure")
    execution.run_request(clocked_ctx, erasure, actor="test")
    assert [decide(client, shop, p)["reason"] for p in DEMO_PURPOSES] == ["held"] * len(DEMO_PURPOSES)
    detail = client.get(f"/v1/requests/{erasure}", headers=dpo).get_json()
    assert [(x["purpose"], x["kind"]) for x in detail["in_force"]] == [("*", "held")]


def test_an_erasure_without_a_hold_is_still_erased(client, dpo, shop, clocked_ctx, tmp_path):
    subject_id = record(client, shop)
    crm_store(client, dpo, tmp_path)
    erasure = open_verified(client, dpo, "erasure")
    execution.run_request(clocked_ctx, erasure, actor="test")
    assert decide_batch(client, shop, "essential", subject_id)["reason"] == "erased"


def test_a_holds_purpose_is_registered_not_on_consent_and_set_once(client, dpo, shop):
    subject_id = record(client, shop)
    scope = {"scope": {"subject": subject_id}, "reason": "Invoices"}
    unknown = client.put("/v1/holds/h1", headers=dpo, json=scope | {"purpose": "nope"})
    assert assert_problem(unknown, 404)["errors"] == {"purpose": ["no purpose 'nope' is registered"]}
    on_consent = client.put("/v1/holds/h1", headers=dpo, json=scope | {"purpose": "newsletter"})
    assert "purpose" in assert_problem(on_consent, 422)["errors"]
    assert client.get("/v1/holds/h1", headers=dpo).status_code == 404  # nothing written

    assert put_purpose(client, dpo, "tax_records", TAX).status_code == 201
    assert client.put("/v1/holds/h1", headers=dpo, json=scope).status_code == 201
    assert client.put("/v1/holds/h1", headers=dpo, json=scope | {"purpose": "tax_records"}).status_code == 200
    again = client.put("/v1/holds/h1", headers=dpo, json=scope | {"purpose": "essential"})
    assert "cannot change" in assert_problem(again, 409)["detail"]
    assert client.get("/v1/holds/h1", headers=dpo).get_json()["purpose"] == "tax_records"


def test_an_objection_to_direct_marketing_covers_every_such_purpose_also_later_ones(client, dpo, shop):
    record(
        client, shop, decisions=[{"purpose": p, "granted": True} for p in ("newsletter", "ads", "analytics")]
    )
    open_verified(client, dpo, "objection", purposes=["newsletter"])
    assert decide(client, shop, "newsletter")["reason"] == "objected"
    assert decide(client, shop, "ads")["reason"] == "objected"  # direct marketing, not named
    assert decide(client, shop, "analytics")["reason"] == "consent_granted"  # not direct marketing

    later = DEMO_PURPOSES["newsletter"] | {"titles": {"en": "SMS offers", "de": "SMS-Angebote"}}
    assert put_purpose(client, dpo, "sms_offers", later).status_code == 201
    subject_id = record(client, shop, decisions=[{"purpose": "sms_offers", "granted": True}])
    answer = decide(client, shop, "sms_offers")
    assert (answer["allowed"], answer["reason"]) == (False, "objected")
    assert decide_batch(client, shop, "sms_offers", subject_id)["reason"] == "objected"


def test_an_objection_to_other_processing_covers_only_what_it_names(client, dpo, shop):
    record(client, shop, decisions=[{"purpose": p, "granted": True} for p in ("newsletter", "analytics")])
    request_id = open_verified(client, dpo, "objection", purposes=["analytics"])
    assert decide(client, shop, "analytics")["reason"] == "objected"
    assert decide(client, shop, "newsletter")["reason"] == "consent_granted"
    lifted = client.post(
        f"/v1/requests/{request_id}/lift", headers=dpo, json={"reason": "compelling grounds"}
    )
    assert lifted.status_code == 200, lifted.get_data(as_text=True)
    assert decide(client, shop, "analytics")["reason"] == "consent_granted"


def test_the_legal_basis_cannot_leave_consent_once_consent_was_collected(client, dpo, shop, clocked_ctx):
    swapped = DEMO_PURPOSES["newsletter"] | {"legal_basis": "legitimate_interests"}
    # before any consent the purpose may still be corrected, and back
    assert put_purpose(client, dpo, "newsletter", swapped).status_code == 200
    assert put_purpose(client, dpo, "newsletter", DEMO_PURPOSES["newsletter"]).status_code == 200
    assert client.get("/v1/purposes/newsletter", headers=dpo).get_json()["consent_collected_at"] is None

    record(client, shop, decisions=[{"purpose": "newsletter", "granted": False}])  # a refusal counts too
    before = client.get("/v1/purposes/newsletter", headers=dpo).get_json()
    assert before["consent_collected_at"] is not None
    problem = assert_problem(put_purpose(client, dpo, "newsletter", swapped), 409)
    assert problem["reason"] == "consent_collected" and "new purpose" in problem["detail"]
    after = client.get("/v1/purposes/newsletter", headers=dpo).get_json()
    assert (after["legal_basis"], after["version"]) == ("consent", before["version"])
    # other changes stay possible
    reworded = DEMO_PURPOSES["newsletter"] | {"titles": {"en": "Our newsletter", "de": "Unser Newsletter"}}
    assert put_purpose(client, dpo, "newsletter", reworded).status_code == 200


def test_a_cookie_decision_collects_consent_for_its_purpose(client, dpo, shop, clocked_ctx):
    record(client, shop, decisions=[{"cookie": "_ga", "granted": True}])  # _ga belongs to analytics
    with clocked_ctx.uow(write=False) as uow:
        collected = dict(uow.session.execute(select(Purpose.key, Purpose.consent_collected_at)).all())
    assert collected["analytics"] is not None and collected["newsletter"] is None
    swapped = DEMO_PURPOSES["analytics"] | {"legal_basis": "legitimate_interests"}
    assert_problem(put_purpose(client, dpo, "analytics", swapped), 409)
