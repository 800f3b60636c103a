"""``/v1/holds``: legal holds on a subject, a store or a collection; changes, release, audit log."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from consent_service import create_app
from consent_service.auditlog.service import entries
from consent_service.erasure.models import LegalHold
from tests.api.helpers import assert_problem, consent_body, crm_store


@pytest.fixture
def hclient(clocked_ctx):
    from consent_service.demo import seed

    seed(clocked_ctx)
    return create_app(context=clocked_ctx).test_client()


@pytest.fixture
def manager(clocked_ctx) -> tuple[dict[str, str], str]:
    from consent_service.auth.service import register_client

    client, token = register_client(clocked_ctx, "dpo", ["dsar:manage"])
    return {"Authorization": f"Bearer {token}"}, str(client["id"])


@pytest.fixture
def auth(manager) -> dict[str, str]:
    return manager[0]


@pytest.fixture
def subject_id(hclient, clocked_ctx) -> str:
    from consent_service.auth.service import register_client

    writer = {"Authorization": f"Bearer {register_client(clocked_ctx, 'shop', ['consent:write'])[1]}"}
    response = hclient.post("/v1/consents", headers=writer, json=consent_body())
    assert response.status_code == 201, response.get_data(as_text=True)
    return str(response.get_json()["subject_id"])


@pytest.fixture
def crm(hclient, auth, tmp_path) -> str:
    return crm_store(hclient, auth, tmp_path)


def put(client, auth, key, **body: Any):
    return client.put(f"/v1/holds/{key}", headers=auth, json=body)


def audit(ctx) -> list[dict[str, Any]]:
    with ctx.uow(write=False) as uow:
        return entries(uow.session, "holds")


def test_holds_on_a_subject_a_store_and_a_collection(hclient, auth, manager, subject_id, crm, clocked_ctx):
    litigation = put(hclient, auth, "litigation-anna", scope={"subject": subject_id}, reason="Case 4 O 12/26")
    assert litigation.status_code == 201, litigation.get_data(as_text=True)
    body = litigation.get_json()
    assert body["scope"] == {"subject": subject_id} and body["reason"] == "Case 4 O 12/26"
    assert body["active"] is True and body["ends_at"] is None and body["released_at"] is None
    assert body["created_by"] == manager[1]

    store = put(hclient, auth, "tax-audit", scope={"store": "crm"}, reason="Tax audit 2026")
    assert store.status_code == 201 and store.get_json()["scope"] == {"store": "crm"}
    collection = put(
        hclient,
        auth,
        "customers-2025",
        scope={"store": "crm", "collection": "customers"},
        reason="Warranty claims",
        ends_at="2027-12-31T23:00:00+01:00",
    )
    assert collection.status_code == 201
    assert collection.get_json()["scope"] == {"store": "crm", "collection": "customers"}
    assert collection.get_json()["ends_at"] == "2027-12-31T22:00:00+00:00"

    shown = hclient.get("/v1/holds/customers-2025", headers=auth).get_json()
    assert shown["ends_at"] == "2027-12-31T22:00:00+00:00" and shown["active"] is True
    listed = hclient.get("/v1/holds", headers=auth).get_json()
    assert [h["key"] for h in listed] == ["customers-2025", "litigation-anna", "tax-audit"]
    placed = audit(clocked_ctx)
    assert [(e["action"], e["details"]["key"]) for e in placed] == [
        ("placed", "litigation-anna"),
        ("placed", "tax-audit"),
        ("placed", "customers-2025"),
    ]
    assert placed[0]["actor"] == manager[1]
    assert placed[0]["details"]["scope"] == {"subject": subject_id}


def test_reason_and_end_can_change_but_not_the_scope(hclient, auth, crm, clocked_ctx):
    put(hclient, auth, "tax-audit", scope={"store": "crm"}, reason="Tax audit 2026")
    changed = put(
        hclient,
        auth,
        "tax-audit",
        scope={"store": "crm"},
        reason="Tax audit 2026, extended",
        ends_at="2028-01-01T00:00:00Z",
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json()["reason"] == "Tax audit 2026, extended"
    assert changed.get_json()["ends_at"] == "2028-01-01T00:00:00+00:00"

    moved = put(
        hclient, auth, "tax-audit", scope={"store": "crm", "collection": "customers"}, reason="Tax audit"
    )
    assert "scope cannot change" in assert_problem(moved, 409)["detail"]
    shown = hclient.get("/v1/holds/tax-audit", headers=auth).get_json()
    assert shown["scope"] == {"store": "crm"} and shown["reason"] == "Tax audit 2026, extended"
    assert [e["action"] for e in audit(clocked_ctx)] == ["placed", "changed"]
    assert audit(clocked_ctx)[1]["details"]["ends_at"] == "2028-01-01T00:00:00+00:00"


def test_release_ends_a_hold_for_good(hclient, auth, manager, crm, clocked_ctx, clock):
    put(hclient, auth, "tax-audit", scope={"store": "crm"}, reason="Tax audit 2026")
    clock.advance(days=3)
    released = hclient.post("/v1/holds/tax-audit/release", headers=auth, json={"reason": "Audit closed"})
    assert released.status_code == 200, released.get_data(as_text=True)
    body = released.get_json()
    assert body["active"] is False and body["release_reason"] == "Audit closed"
    assert body["released_by"] == manager[1] and body["released_at"] == "2026-02-03T12:00:00+00:00"

    again = hclient.post("/v1/holds/tax-audit/release", headers=auth, json={"reason": "twice"})
    assert again.status_code == 200 and again.get_json()["release_reason"] == "Audit closed"
    reopened = put(hclient, auth, "tax-audit", scope={"store": "crm"}, reason="Tax audit 2026")
    assert "released" in assert_problem(reopened, 409)["detail"]
    log = audit(clocked_ctx)
    assert [e["action"] for e in log] == ["placed", "released"]
    assert log[1]["details"]["release_reason"] == "Audit closed"


def test_release_needs_a_reason_and_an_existing_hold(hclient, auth, crm):
    put(hclient, auth, "tax-audit", scope={"store": "crm"}, reason="Tax audit 2026")
    body = assert_problem(hclient.post("/v1/holds/tax-audit/release", headers=auth, json={}), 422)
    assert body["errors"] == {"reason": ["Missing data for required field."]}
    body = assert_problem(
        hclient.post("/v1/holds/tax-audit/release", headers=auth, json={"reason": " "}), 422
    )
    assert list(body["errors"]) == ["reason"]
    assert hclient.get("/v1/holds/tax-audit", headers=auth).get_json()["released_at"] is None
    assert_problem(hclient.post("/v1/holds/nope/release", headers=auth, json={"reason": "x"}), 404)
    assert_problem(hclient.get("/v1/holds/nope", headers=auth), 404)


def test_active_lists_only_holds_in_force(hclient, auth, subject_id, crm, clock):
    put(hclient, auth, "forever", scope={"subject": subject_id}, reason="Litigation")
    put(hclient, auth, "until-march", scope={"store": "crm"}, reason="Audit", ends_at="2026-03-01T00:00:00Z")
    put(hclient, auth, "released", scope={"store": "crm", "collection": "customers"}, reason="Claim")
    hclient.post("/v1/holds/released/release", headers=auth, json={"reason": "settled"})

    def keys(path: str) -> list[str]:
        return [h["key"] for h in hclient.get(path, headers=auth).get_json()]

    assert keys("/v1/holds?active=true") == ["forever", "until-march"]
    clock.advance(days=30)  # 2026-03-02: the audit hold has ended
    assert keys("/v1/holds?active=true") == ["forever"]
    assert keys("/v1/holds") == ["forever", "released", "until-march"]
    assert hclient.get("/v1/holds/until-march", headers=auth).get_json()["active"] is False


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"scope": {}}, {"scope": ["name a subject, a store, or a store and one of its collections"]}),
        (
            {"scope": {"subject": "sub_x", "store": "crm"}},
            {
                "scope": ["a hold is on a subject or on a store (collection), not both"],
                "scope.subject": ["no subject 'sub_x'"],
            },
        ),
        (
            {"scope": {"collection": "customers"}},
            {
                "scope": ["name a subject, a store, or a store and one of its collections"],
                "scope.collection": ["name the store of the collection too"],
            },
        ),
        ({"scope": {"store": "crm", "table": "x"}}, {"scope": {"table": ["Unknown field."]}}),
        (
            {"scope": {"store": "crm"}, "ends_at": "2027-01-01T00:00:00"},
            {"ends_at": ["give an offset, e.g. Z"]},
        ),
        ({"scope": {"store": "crm"}, "ends_at": "soon"}, {"ends_at": ["Not a valid datetime."]}),
        ({"scope": {"store": "crm"}, "colour": "red"}, {"colour": ["Unknown field."]}),
    ],
)
def test_bad_holds_are_422_and_write_nothing(hclient, auth, crm, clocked_ctx, body, errors):
    body = {"reason": "Litigation", **body}
    problem = assert_problem(put(hclient, auth, "h1", **body), 422)
    assert problem["errors"] == errors
    with clocked_ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(LegalHold)) == 0
    assert audit(clocked_ctx) == []


@pytest.mark.parametrize(
    ("scope", "errors"),
    [
        ({"subject": "sub_nobody"}, {"scope.subject": ["no subject 'sub_nobody'"]}),
        ({"store": "erp"}, {"scope.store": ["no store 'erp' is registered"]}),
        (
            {"store": "crm", "collection": "invoices"},
            {"scope.collection": ["store 'crm' has no collection 'invoices'"]},
        ),
    ],
)
def test_holds_on_what_is_not_registered_are_404(hclient, auth, crm, clocked_ctx, scope, errors):
    problem = assert_problem(put(hclient, auth, "h1", scope=scope, reason="Litigation"), 404)
    assert problem["errors"] == errors and problem["type"].endswith("/unknown-reference")
    with clocked_ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(LegalHold)) == 0


def test_a_hold_needs_a_reason(hclient, auth, crm):
    problem = assert_problem(put(hclient, auth, "h1", scope={"store": "crm"}), 422)
    assert problem["errors"] == {"reason": ["Missing data for required field."]}
    problem = assert_problem(put(hclient, auth, "h1", scope={"store": "crm"}, reason="  "), 422)
    assert list(problem["errors"]) == ["reason"]


def test_holds_need_the_dsar_manage_scope(hclient, clocked_ctx):
    from consent_service.auth.service import register_client

    assert_problem(hclient.get("/v1/holds"), 401)
    assert_problem(hclient.put("/v1/holds/h1", json={"scope": {"store": "crm"}, "reason": "x"}), 401)
    other = {"Authorization": f"Bearer {register_client(clocked_ctx, 'crm', ['consent:read'])[1]}"}
    assert_problem(hclient.get("/v1/holds", headers=other), 403)
    assert_problem(hclient.get("/v1/holds/h1", headers=other), 403)
    assert_problem(hclient.put("/v1/holds/h1", headers=other, json={"scope": {}, "reason": "x"}), 403)
    assert_problem(hclient.post("/v1/holds/h1/release", headers=other, json={"reason": "x"}), 403)
