"""Crypto-shredding through the API, and the privacy vault."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_problem, consent_body


@pytest.fixture
def anna(client, admin, demo):
    body = client.post("/v1/consents", headers=admin, json=consent_body()).get_json()
    return body["subject_id"]


def decide(client, admin, purpose="newsletter", **subject):
    return client.post("/v1/decisions", headers=admin, json={**subject, "purpose": purpose}).get_json()


def test_shredding_erases_a_subject_everywhere(client, admin, anna):
    device = client.post(
        "/v1/consents",
        headers=admin,
        json=consent_body("dev-9", "device_id", decisions=[{"purpose": "analytics", "granted": True}]),
    ).get_json()["subject_id"]
    client.post(
        "/v1/subjects/link", headers=admin, json={"from": {"subject_id": device}, "to": {"subject_id": anna}}
    )

    response = client.post(f"/v1/subjects/{anna}/shred", headers=admin)
    assert response.status_code == 200
    body = response.get_json()
    assert sorted(body["shredded_subjects"]) == sorted([anna, device]) and len(body["events"]) == 2

    for purpose in ("newsletter", "analytics", "essential"):
        assert decide(client, admin, purpose, subject_id=anna) == {
            "allowed": False,
            "reason": "erased",
            "legal_basis": decide(client, admin, purpose, subject_id=anna)["legal_basis"],
            "event_id": None,
            "valid_until": None,
        }
    batch = client.post(
        "/v1/decisions/batch", headers=admin, json={"purpose": "essential", "subjects": [anna, device]}
    )
    assert [r["reason"] for r in batch.get_json()["results"]] == ["erased", "erased"]

    assert_problem(
        client.post(
            "/v1/subjects/resolve", headers=admin, json={"type": "email", "value": "anna@example.org"}
        ),
        404,
    )
    assert (
        decide(client, admin, subject={"type": "email", "value": "anna@example.org"})["reason"]
        == "no_consent"
    )

    history = client.get(f"/v1/subjects/{anna}/history", headers=admin).get_json()
    assert history["identities"] == [{"type": "email", "value": "[erased]"}]
    assert all(e["proof"] in ("[erased]", None) for e in history["events"])
    assert history["events"][-1]["kind"] == "shredded"
    assert client.get("/v1/ledger/verify", headers=admin).get_json()["ok"] is True

    again = client.post(f"/v1/subjects/{anna}/shred", headers=admin).get_json()
    assert again["already_shredded"] is True and again["events"] == []
    assert_problem(
        client.post(
            "/v1/consents",
            headers=admin,
            json=consent_body(subject_id=anna, subject=None) | {"subject_id": anna},
        ),
        422,
    )


def test_shred_needs_admin_and_a_known_subject(client, token, admin, anna):
    writer = {"Authorization": f"Bearer {token('consent:write')}"}
    assert_problem(client.post(f"/v1/subjects/{anna}/shred", headers=writer), 403)
    assert_problem(client.post("/v1/subjects/sub_nobody/shred", headers=admin), 404)


def test_vault_round_trip_gated_by_purpose(client, admin, token, anna):
    crm = {"Authorization": f"Bearer {token('vault:encrypt', 'vault:decrypt')}"}
    sealed = client.post(
        "/v1/vault/encrypt",
        headers=crm,
        json={"subject_id": anna, "field": "email", "value": "anna@example.org"},
    )
    assert sealed.status_code == 200
    token_value = sealed.get_json()["token"]
    assert token_value.startswith("vt1.") and "anna" not in token_value

    opened = client.post(
        "/v1/vault/decrypt", headers=crm, json={"token": token_value, "purpose": "newsletter"}
    )
    assert opened.status_code == 200 and opened.get_json()["value"] == "anna@example.org"

    denied = client.post("/v1/vault/decrypt", headers=crm, json={"token": token_value, "purpose": "ads"})
    body = assert_problem(denied, 403)
    assert body["reason"] == "no_consent"

    forged = token_value.replace(".email.", ".phone.")
    assert_problem(
        client.post("/v1/vault/decrypt", headers=crm, json={"token": forged, "purpose": "newsletter"}), 422
    )
    assert_problem(
        client.post("/v1/vault/decrypt", headers=crm, json={"token": "nonsense", "purpose": "newsletter"}),
        422,
    )

    log = client.get("/v1/vault/access-log", headers=admin).get_json()
    outcomes = [(e["details"]["purpose"], e["details"]["outcome"]) for e in log["entries"]]
    assert outcomes == [("newsletter", "allowed"), ("ads", "no_consent"), ("newsletter", "invalid_token")]
    assert all("anna@example.org" not in str(e) for e in log["entries"])
    assert client.get("/v1/vault/access-log/verify", headers=admin).get_json()["ok"] is True

    client.post(f"/v1/subjects/{anna}/shred", headers=admin)
    gone = assert_problem(
        client.post("/v1/vault/decrypt", headers=crm, json={"token": token_value, "purpose": "newsletter"}),
        410,
    )
    assert gone["reason"] == "erased"
    assert_problem(
        client.post(
            "/v1/vault/encrypt", headers=crm, json={"subject_id": anna, "field": "email", "value": "x"}
        ),
        410,
    )


def test_vault_batch_and_identities(client, token):
    crm = {"Authorization": f"Bearer {token('vault:encrypt', 'vault:decrypt')}"}
    items = [
        {"subject": {"type": "customer_id", "value": f"C-{i}"}, "field": "phone", "value": f"+49 30 {i:06d}"}
        for i in range(1000)
    ]
    response = client.post("/v1/vault/encrypt/batch", headers=crm, json={"items": items})
    assert response.status_code == 200
    tokens = response.get_json()["tokens"]
    assert len(tokens) == 1000 and len({t.split(".")[1] for t in tokens}) == 1000
    assert_problem(
        client.post("/v1/vault/encrypt/batch", headers=crm, json={"items": items + items[:1]}), 422
    )
    assert_problem(
        client.post(
            "/v1/vault/encrypt", headers=crm, json={"subject_id": "sub_x", "field": "Bad Field", "value": "v"}
        ),
        422,
    )
    assert_problem(
        client.post(
            "/v1/vault/encrypt",
            headers=crm,
            json={"subject_id": "sub_nobody", "field": "email", "value": "v"},
        ),
        404,
    )


def test_vault_scopes(client, token, anna):
    reader = {"Authorization": f"Bearer {token('consent:read')}"}
    assert_problem(
        client.post(
            "/v1/vault/encrypt", headers=reader, json={"subject_id": anna, "field": "email", "value": "x"}
        ),
        403,
    )
    assert_problem(
        client.post(
            "/v1/vault/decrypt", headers=reader, json={"token": "vt1.a.b.c", "purpose": "newsletter"}
        ),
        403,
    )
    assert_problem(client.get("/v1/vault/access-log", headers=reader), 403)
