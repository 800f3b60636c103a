"""Recording consent, the gate's answers, subjects, history, the change feed and the ledger."""

from __future__ import annotations

from sqlalchemy import func, select

from consent_service.crypto.signing import load_public_key, verify_signed
from consent_service.ledger.models import LedgerEvent
from tests.api.helpers import assert_problem, consent_body


def decide(client, auth, purpose="newsletter", **subject):
    subject = subject or {"subject": {"type": "email", "value": "anna@example.org"}}
    response = client.post("/v1/decisions", headers=auth, json={**subject, "purpose": purpose})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_record_returns_events_and_a_signed_receipt(tclient, auth):
    response = tclient.post("/v1/consents", headers=auth, json=consent_body())
    assert response.status_code == 201
    body = response.get_json()
    assert body["subject_id"].startswith("sub_") and body["subject_created"] is True
    assert [(e["purpose"], e["cookie"], e["decision"]) for e in body["events"]] == [
        ("newsletter", None, "granted"),
        (None, "_ga", "denied"),
    ]
    assert [e["seq"] for e in body["events"]] == [1, 2]
    assert body["events"][0]["valid_until"].startswith("2027-01-31")
    receipt = body["receipt"]
    key = tclient.get("/v1/ledger/public-key").get_json()
    assert verify_signed(receipt, load_public_key(key["public_key"]))
    assert receipt["payload"]["piiPrincipalId"] == body["subject_id"]
    purposes = receipt["payload"]["services"][0]["purposes"]
    assert purposes[0]["eventId"] == body["events"][0]["id"] and purposes[0]["piiCategory"] == [
        "user.contact.email"
    ]
    tampered = {**receipt, "payload": {**receipt["payload"], "piiPrincipalId": "sub_other"}}
    assert not verify_signed(tampered, load_public_key(key["public_key"]))


def test_gate_reasons_over_time(tclient, auth, clock):
    assert decide(tclient, auth) == {
        "allowed": False,
        "reason": "no_consent",
        "legal_basis": "consent",
        "event_id": None,
        "valid_until": None,
    }
    event_id = tclient.post("/v1/consents", headers=auth, json=consent_body()).get_json()["events"][0]["id"]
    granted = decide(tclient, auth)
    assert granted["allowed"] and granted["reason"] == "consent_granted" and granted["event_id"] == event_id

    withdraw = consent_body(decisions=[{"purpose": "newsletter", "granted": False}])
    assert (
        tclient.post("/v1/consents", headers=auth, json=withdraw).get_json()["events"][0]["decision"]
        == "withdrawn"
    )
    assert decide(tclient, auth)["reason"] == "consent_withdrawn"

    other = consent_body("bob@example.org", decisions=[{"purpose": "newsletter", "granted": False}])
    assert (
        tclient.post("/v1/consents", headers=auth, json=other).get_json()["events"][0]["decision"] == "denied"
    )
    assert (
        decide(tclient, auth, subject={"type": "email", "value": "bob@example.org"})["reason"]
        == "consent_denied"
    )

    tclient.post("/v1/consents", headers=auth, json=consent_body())
    clock.advance(days=366)
    assert decide(tclient, auth)["reason"] == "consent_expired"

    tclient.post("/v1/consents", headers=auth, json=consent_body())
    assert decide(tclient, auth)["reason"] == "consent_granted"
    newsletter = tclient.get("/v1/purposes/newsletter", headers=auth).get_json()
    changed = {
        k: newsletter[k] for k in ("titles", "descriptions", "legal_basis", "data_categories", "data_uses")
    }
    changed["descriptions"] = {**changed["descriptions"], "en": "Now also partner offers."}
    assert tclient.put("/v1/purposes/newsletter", headers=auth, json=changed).get_json()["version"] == 2
    assert decide(tclient, auth)["reason"] == "consent_outdated"

    assert decide(tclient, auth, purpose="essential")["reason"] == "legal_basis"
    assert decide(tclient, auth, subject_id="sub_unknown")["reason"] == "no_consent"


def test_all_decisions_land_together_or_not_at_all(tclient, auth, clocked_ctx):
    bad = consent_body(
        decisions=[{"purpose": "newsletter", "granted": True}, {"cookie": "_nope", "granted": True}]
    )
    body = assert_problem(tclient.post("/v1/consents", headers=auth, json=bad), 404)
    assert "decisions.1" in body["errors"]
    bad_ip = consent_body(proof={"ip": "999.1.1.1"})
    assert_problem(tclient.post("/v1/consents", headers=auth, json=bad_ip), 422)
    duplicate = consent_body(decisions=[{"purpose": "newsletter", "granted": True}] * 2)
    assert_problem(tclient.post("/v1/consents", headers=auth, json=duplicate), 422)
    with clocked_ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(LedgerEvent)) == 0
    assert_problem(
        tclient.post(
            "/v1/subjects/resolve", headers=auth, json={"type": "email", "value": "anna@example.org"}
        ),
        404,
    )


def test_batch_answers_in_order(tclient, auth):
    granted = tclient.post("/v1/consents", headers=auth, json=consent_body()).get_json()["subject_id"]
    tclient.post(
        "/v1/consents",
        headers=auth,
        json=consent_body("bob@example.org", decisions=[{"purpose": "newsletter", "granted": False}]),
    )
    subjects = [
        granted,
        {"type": "email", "value": "BOB@example.org"},
        "sub_unknown",
        {"type": "email", "value": "anna@example.org"},
    ]
    response = tclient.post(
        "/v1/decisions/batch", headers=auth, json={"purpose": "newsletter", "subjects": subjects}
    )
    assert response.status_code == 200
    assert [r["reason"] for r in response.get_json()["results"]] == [
        "consent_granted",
        "consent_denied",
        "no_consent",
        "consent_granted",
    ]
    too_many = {"purpose": "newsletter", "subjects": ["sub_x"] * 10_001}
    assert_problem(tclient.post("/v1/decisions/batch", headers=auth, json=too_many), 422)
    assert_problem(
        tclient.post(
            "/v1/decisions/batch", headers=auth, json={"purpose": "newsletter", "subjects": [{"type": "x"}]}
        ),
        422,
    )
    assert_problem(
        tclient.post("/v1/decisions/batch", headers=auth, json={"purpose": "ghost", "subjects": ["a"]}), 404
    )


def test_batch_of_ten_thousand_fits_the_batch_body_limit(tclient, auth):
    subjects = [f"sub_{i:022d}" for i in range(10_000)]
    response = tclient.post(
        "/v1/decisions/batch", headers=auth, json={"purpose": "newsletter", "subjects": subjects}
    )
    assert response.status_code == 200 and len(response.get_json()["results"]) == 10_000


def test_subject_views_history_and_linking(tclient, auth):
    device = tclient.post(
        "/v1/consents",
        headers=auth,
        json=consent_body("dev-123", "device_id", decisions=[{"purpose": "analytics", "granted": True}]),
    ).get_json()["subject_id"]
    customer = tclient.post(
        "/v1/consents",
        headers=auth,
        json=consent_body("C-42", "customer_id", decisions=[{"purpose": "newsletter", "granted": True}]),
    ).get_json()["subject_id"]
    assert decide(tclient, auth, "newsletter", subject_id=device)["reason"] == "no_consent"

    linked = tclient.post(
        "/v1/subjects/link",
        headers=auth,
        json={"from": {"subject": {"type": "device_id", "value": "dev-123"}}, "to": {"subject_id": customer}},
    )
    assert (
        linked.status_code == 200 and linked.get_json()["linked"] and linked.get_json()["root_id"] == customer
    )
    again = tclient.post(
        "/v1/subjects/link",
        headers=auth,
        json={"from": {"subject_id": device}, "to": {"subject_id": customer}},
    )
    assert again.get_json()["linked"] is False
    assert decide(tclient, auth, "newsletter", subject_id=device)["reason"] == "consent_granted"
    assert decide(tclient, auth, "analytics", subject_id=customer)["reason"] == "consent_granted"

    consents = tclient.get(f"/v1/subjects/{device}/consents", headers=auth).get_json()
    assert {(c["target_key"], c["decision"]) for c in consents["consents"]} == {
        ("analytics", "granted"),
        ("newsletter", "granted"),
    }

    history = tclient.get(f"/v1/subjects/{customer}/history", headers=auth).get_json()
    assert [e["kind"] for e in history["events"]] == ["consent", "consent", "linked"]
    assert history["events"][0]["proof"]["ip"] == "203.0.113.0"
    assert history["events"][0]["proof"]["user_agent"] == "Mozilla/5.0 (X11)"
    assert history["identities"] == [{"type": "customer_id", "value": "C-42"}]
    resolved = tclient.post(
        "/v1/subjects/resolve", headers=auth, json={"type": "device_id", "value": "dev-123"}
    )
    assert resolved.get_json() == {"subject_id": device}
    assert_problem(tclient.get("/v1/subjects/sub_nope/history", headers=auth), 404)
    assert_problem(
        tclient.post(
            "/v1/subjects/link",
            headers=auth,
            json={"from": {"subject_id": device}, "to": {"subject_id": device}},
        ),
        409,  # already one subject
    )


def test_change_feed_pages_by_cursor(tclient, auth):
    for i in range(5):
        tclient.post("/v1/consents", headers=auth, json=consent_body(f"u{i}@example.org"))
    seen, after = [], 0
    while True:
        page = tclient.get(f"/v1/events?after={after}&limit=3", headers=auth).get_json()
        seen += [e["seq"] for e in page["events"]]
        after = page["next_after"]
        if not page["has_more"]:
            break
    assert seen == list(range(1, 11))
    assert "proof" not in tclient.get("/v1/events", headers=auth).get_json()["events"][0]
    assert_problem(tclient.get("/v1/events?limit=5000", headers=auth), 422)
    assert_problem(tclient.get("/v1/events?after=-1", headers=auth), 422)


def test_ledger_verify_and_checkpoints(tclient, auth):
    for i in range(3):
        tclient.post("/v1/consents", headers=auth, json=consent_body(f"u{i}@example.org"))
    report = tclient.get("/v1/ledger/verify", headers=auth).get_json()
    assert report["ok"] and report["events_checked"] == 6 and report["first_bad_seq"] is None
    checkpoint = tclient.get("/v1/ledger/checkpoints/latest", headers=auth).get_json()
    assert checkpoint["payload"]["seq"] == 6 and checkpoint["payload"]["head_hash"] == report["head_hash"]
    key = tclient.get("/v1/ledger/public-key").get_json()
    assert verify_signed(checkpoint, load_public_key(key["public_key_pem"]))
    assert tclient.get("/v1/ledger/checkpoints/latest", headers=auth).get_json() == checkpoint
    assert tclient.get("/v1/ledger/verify", headers=auth).get_json()["checkpoints_checked"] == 1


def test_batch_answers_equal_single_answers(tclient, auth, clock):
    subjects = []
    for i, granted in enumerate([True, False, True, True]):
        body = consent_body(f"p{i}@example.org", decisions=[{"purpose": "newsletter", "granted": granted}])
        subjects.append(tclient.post("/v1/consents", headers=auth, json=body).get_json()["subject_id"])
    withdraw = consent_body("p3@example.org", decisions=[{"purpose": "newsletter", "granted": False}])
    tclient.post("/v1/consents", headers=auth, json=withdraw)
    tclient.post(f"/v1/subjects/{subjects[2]}/shred", headers=auth)
    clock.advance(days=1)
    refs = [*subjects, "sub_unknown", {"type": "email", "value": "p0@example.org"}]
    batch = tclient.post(
        "/v1/decisions/batch", headers=auth, json={"purpose": "newsletter", "subjects": refs}
    ).get_json()
    singles = []
    for ref in refs:
        query = {"subject_id": ref} if isinstance(ref, str) else {"subject": ref}
        singles.append(decide(tclient, auth, **query))
    assert batch["results"] == singles
    assert [r["reason"] for r in singles] == [
        "consent_granted",
        "consent_denied",
        "erased",
        "consent_withdrawn",
        "no_consent",
        "consent_granted",
    ]
