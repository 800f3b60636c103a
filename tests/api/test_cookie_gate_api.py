"""``POST /v1/decisions`` for a cookie: strictly necessary, the cookie's own decision, its purpose's."""

from __future__ import annotations

import pytest

from tests.api.helpers import assert_problem, consent_body

ANNA = {"subject": {"type": "email", "value": "anna@example.org"}}


def record(client, auth, *decisions):
    response = client.post("/v1/consents", headers=auth, json=consent_body(decisions=list(decisions)))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def gate(client, auth, cookie, subject=None):
    response = client.post("/v1/decisions", headers=auth, json={**(subject or ANNA), "cookie": cookie})
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_a_cookie_of_a_strictly_necessary_purpose_is_allowed_without_any_decision(tclient, auth):
    answer = gate(tclient, auth, "session")
    assert answer == {
        "allowed": True,
        "reason": "strictly_necessary",
        "legal_basis": "legitimate_interests",
        "event_id": None,
        "valid_until": None,
        "cookie": "session",
        "purpose": "essential",
        "decided_by": "purpose",
    }


def test_without_any_decision_a_cookie_needs_consent(tclient, auth):
    answer = gate(tclient, auth, "_ga")
    assert (answer["allowed"], answer["reason"], answer["decided_by"]) == (False, "no_consent", "purpose")
    assert answer["purpose"] == "analytics"


def test_the_purpose_decides_when_the_subject_did_not_decide_on_the_cookie(tclient, auth):
    recorded = record(tclient, auth, {"purpose": "analytics", "granted": True})
    answer = gate(tclient, auth, "_ga")
    assert (answer["allowed"], answer["reason"], answer["decided_by"]) == (True, "consent_granted", "purpose")
    assert answer["event_id"] == recorded["events"][0]["id"] and answer["valid_until"]


def test_the_cookies_own_decision_narrows_its_purposes_and_cannot_widen_it(tclient, auth):
    recorded = record(
        tclient, auth, {"purpose": "analytics", "granted": True}, {"cookie": "_ga", "granted": False}
    )
    answer = gate(tclient, auth, "_ga")
    assert (answer["allowed"], answer["reason"], answer["decided_by"]) == (False, "consent_denied", "cookie")
    assert answer["event_id"] == recorded["events"][1]["id"]
    record(tclient, auth, {"purpose": "ads", "granted": False}, {"cookie": "_fbp", "granted": True})
    answer = gate(tclient, auth, "_fbp")
    assert (answer["allowed"], answer["reason"], answer["decided_by"]) == (False, "consent_denied", "purpose")
    record(tclient, auth, {"purpose": "ads", "granted": True})
    answer = gate(tclient, auth, "_fbp")
    assert (answer["allowed"], answer["reason"], answer["decided_by"]) == (True, "consent_granted", "cookie")
    # Withdrawing the purpose withdraws its cookies.
    record(tclient, auth, {"purpose": "ads", "granted": False})
    answer = gate(tclient, auth, "_fbp")
    assert (answer["allowed"], answer["decided_by"]) == (False, "purpose")


def test_an_erased_subject_is_erased_for_every_cookie_also_a_strictly_necessary_one(tclient, auth):
    subject_id = record(tclient, auth, {"cookie": "_ga", "granted": True})["subject_id"]
    assert tclient.post(f"/v1/subjects/{subject_id}/shred", headers=auth).status_code == 200
    for cookie in ("_ga", "session"):
        answer = gate(tclient, auth, cookie, {"subject_id": subject_id})
        assert (answer["allowed"], answer["reason"]) == (False, "erased"), cookie


def test_an_unknown_cookie_is_answered_as_an_unknown_purpose_is(tclient, auth):
    cookie = assert_problem(
        tclient.post("/v1/decisions", headers=auth, json={**ANNA, "cookie": "_nope"}), 404
    )
    purpose = assert_problem(
        tclient.post("/v1/decisions", headers=auth, json={**ANNA, "purpose": "nope"}), 404
    )
    assert cookie["status"] == purpose["status"] == 404
    assert "_nope" in cookie["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {**ANNA, "purpose": "analytics", "cookie": "_ga"},
        {**ANNA},
        {**ANNA, "cookie": ""},
        {**ANNA, "cookie": "x" * 129},
        {**ANNA, "cookie": 7},
    ],
)
def test_exactly_one_of_purpose_or_cookie(tclient, auth, body):
    assert_problem(tclient.post("/v1/decisions", headers=auth, json=body), 422)
