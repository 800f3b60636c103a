"""Data subject requests: e-mail verification through a real SMTP server, deadlines,
restriction and objection in the gate, and the audit trail."""

from __future__ import annotations

import time
from typing import Any

from consent_service import create_app
from tests.api.helpers import assert_problem, consent_body
from tests.api.mail import code_in, free_port


def open_request(client, headers, **body):
    payload = {
        "type": "access",
        "identities": [{"type": "email", "value": "anna@example.org"}],
        "verification": {"method": "email"},
    }
    payload.update(body)
    return client.post("/v1/requests", headers=headers, json=payload)


def code_from(inbox: Any) -> str:
    (message,) = inbox.of_kind("verification_code")
    return code_in(message)


def test_email_verification_with_a_real_smtp_server(dpo, smtp):
    client, headers = dpo
    _, inbox = smtp
    created = open_request(client, headers)
    assert created.status_code == 201
    request = created.get_json()
    assert request["state"] == "identity_pending"
    assert request["received_at"].startswith("2026-01-31") and request["due_at"].startswith(
        "2026-03-02T23:59:59"  # 28 February 2026 is a Saturday
    )
    message = inbox.of_kind("verification_code")[0]
    assert message["To"] == "anna@example.org"
    code = code_from(inbox)

    wrong = assert_problem(
        client.post(
            f"/v1/requests/{request['id']}/verify",
            headers=headers,
            json={"code": "000000" if code != "000000" else "111111"},
        ),
        422,
    )
    assert "4 attempt(s) left" in wrong["errors"]["code"][0]
    verified = client.post(f"/v1/requests/{request['id']}/verify", headers=headers, json={"code": code})
    assert verified.status_code == 200 and verified.get_json()["state"] == "verified"
    assert_problem(
        client.post(f"/v1/requests/{request['id']}/verify", headers=headers, json={"code": code}), 409
    )

    shown = client.get(f"/v1/requests/{request['id']}", headers=headers).get_json()
    assert shown["identities"] == [{"type": "email", "value": "anna@example.org", "verification": "code"}]
    assert [(e["action"], e["details"].get("to")) for e in shown["audit_trail"]] == [
        ("received", None),
        ("message_queued", "a***@example.org"),  # received
        ("message_queued", "a***@example.org"),  # the code
        ("transition", "identity_pending"),
        ("wrong_code", None),
        ("identities_verified", None),
        ("transition", "verified"),
    ]
    assert shown["audit_trail_ok"] is True


def test_too_many_wrong_codes_lock_the_code_and_a_dpo_can_verify(dpo, smtp):
    client, headers = dpo
    request = open_request(client, headers).get_json()
    for _ in range(5):
        client.post(f"/v1/requests/{request['id']}/verify", headers=headers, json={"code": "99999x"})
    assert_problem(
        client.post(f"/v1/requests/{request['id']}/verify", headers=headers, json={"code": "123456"}), 409
    )
    by_dpo = client.post(
        f"/v1/requests/{request['id']}/verify", headers=headers, json={"note": "ID card checked at the desk"}
    )
    assert by_dpo.get_json()["state"] == "verified"


def test_expired_codes_are_refused(dpo, smtp, clock):
    client, headers = dpo
    _, inbox = smtp
    request = open_request(client, headers).get_json()
    code = code_from(inbox)
    clock.advance(minutes=31)
    body = assert_problem(
        client.post(f"/v1/requests/{request['id']}/verify", headers=headers, json={"code": code}), 409
    )
    assert "expired" in body["detail"]


def test_an_unreachable_smtp_server_keeps_the_message_for_retry(clocked_ctx):
    from consent_service.auth.service import register_client
    from consent_service.dsar import outbox

    clocked_ctx.config = clocked_ctx.config.with_overrides(smtp_host="127.0.0.1", smtp_port=free_port())
    client = create_app(context=clocked_ctx).test_client()
    headers = {"Authorization": f"Bearer {register_client(clocked_ctx, 'dpo', ['dsar:manage'])[1]}"}
    assert open_request(client, headers).status_code == 201
    messages = outbox.pending(clocked_ctx)  # "received" and the code
    assert len(messages) == 2
    for message in messages:
        assert (
            message["state"] == "pending"
            and message["attempts"] == 1
            and "Connection" in message["last_error"]
        )


def test_the_embedded_schedule_sends_a_message_again_once_the_smtp_server_is_back(clocked_ctx, smtp, clock):
    """``make run`` has no separate worker: the service's own schedule retries the outbox."""
    from consent_service import jobs
    from consent_service.auth.service import register_client
    from consent_service.dsar import outbox

    controller, inbox = smtp
    clocked_ctx.config = clocked_ctx.config.with_overrides(smtp_host="127.0.0.1", smtp_port=free_port())
    client = create_app(context=clocked_ctx).test_client()
    headers = {"Authorization": f"Bearer {register_client(clocked_ctx, 'dpo', ['dsar:manage'])[1]}"}
    assert open_request(client, headers).status_code == 201
    assert [m["attempts"] for m in outbox.pending(clocked_ctx)] == [1, 1]  # both failed

    clocked_ctx.config = clocked_ctx.config.with_overrides(smtp_port=controller.port)  # the server is back
    clock.advance(seconds=31)  # past the first back-off
    stop = jobs.start_scheduler(clocked_ctx, every=0.1)
    try:
        delivered = inbox.wait_for(2)
        # the SMTP server has the messages before the round marks them sent: wait for that too
        deadline = time.monotonic() + 5
        while outbox.pending(clocked_ctx) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
    assert len(delivered) == 2 and outbox.pending(clocked_ctx) == []


def test_restriction_and_objection_take_effect_in_the_gate(dpo, clocked_ctx):
    client, headers = dpo
    subject_id = client.post(
        "/v1/consents",
        headers=headers,
        json=consent_body(
            decisions=[{"purpose": "newsletter", "granted": True}, {"purpose": "analytics", "granted": True}]
        ),
    ).get_json()["subject_id"]

    def reason(purpose: str) -> str:
        return client.post(
            "/v1/decisions", headers=headers, json={"subject_id": subject_id, "purpose": purpose}
        ).get_json()["reason"]

    objection = open_request(
        client,
        headers,
        type="objection",
        purposes=["newsletter"],
        verification={"method": "dpo", "note": "signed letter"},
    ).get_json()
    assert objection["state"] == "completed"
    assert reason("newsletter") == "objected" and reason("analytics") == "consent_granted"
    body = assert_problem(
        client.post(f"/v1/requests/{objection['id']}/lift", headers=headers, json={"reason": "x"}), 409
    )
    assert "absolute" in body["detail"]

    restriction = open_request(
        client, headers, type="restriction", verification={"method": "dpo", "note": "accuracy contested"}
    ).get_json()
    assert reason("analytics") == "restricted" and reason("essential") == "restricted"
    batch = client.post(
        "/v1/decisions/batch", headers=headers, json={"purpose": "analytics", "subjects": [subject_id]}
    ).get_json()
    assert batch["results"][0]["reason"] == "restricted"
    lifted = client.post(
        f"/v1/requests/{restriction['id']}/lift", headers=headers, json={"reason": "accuracy verified"}
    )
    assert lifted.status_code == 200
    assert reason("analytics") == "consent_granted" and reason("newsletter") == "objected"
    trail = client.get(f"/v1/requests/{restriction['id']}", headers=headers).get_json()["audit_trail"]
    lifted_entry = next(e for e in trail if e["action"] == "restriction_lifted")
    assert lifted_entry["details"]["reason"] == "accuracy verified"


def test_deadlines_extension_rejection_and_filters(dpo, clock):
    client, headers = dpo
    request = open_request(
        client, headers, verification={"method": "dpo", "note": "known customer"}
    ).get_json()
    assert request["due_at"].startswith("2026-03-02T23:59:59")  # 28 February 2026 is a Saturday
    assert_problem(
        client.post(
            f"/v1/requests/{request['id']}/extend", headers=headers, json={"months": 3, "reason": "x"}
        ),
        422,
    )
    extended = client.post(
        f"/v1/requests/{request['id']}/extend", headers=headers, json={"months": 2, "reason": "many stores"}
    ).get_json()
    assert extended["due_at"].startswith("2026-04-30") and extended["extension_months"] == 2
    assert_problem(
        client.post(
            f"/v1/requests/{request['id']}/extend", headers=headers, json={"months": 1, "reason": "more"}
        ),
        409,
    )

    late = open_request(
        client, headers, type="erasure", verification={"method": "dpo", "note": "n"}
    ).get_json()
    clock.advance(days=40)
    assert_problem(
        client.post(
            f"/v1/requests/{late['id']}/extend", headers=headers, json={"months": 1, "reason": "too late"}
        ),
        409,
    )
    overdue = client.get("/v1/requests?overdue=true", headers=headers).get_json()
    assert [r["id"] for r in overdue] == [late["id"]] and overdue[0]["overdue"] is True
    soon = client.get("/v1/requests?due_within=P90D", headers=headers).get_json()
    assert {r["id"] for r in soon} == {late["id"], request["id"]}
    assert_problem(client.get("/v1/requests?due_within=soon", headers=headers), 422)

    assert_problem(
        client.post(
            f"/v1/requests/{late['id']}/reject", headers=headers, json={"ground": "other", "reason": " "}
        ),
        422,
    )
    rejected = client.post(
        f"/v1/requests/{late['id']}/reject",
        headers=headers,
        json={"ground": "manifestly_unfounded", "reason": "the same request every day"},
    )
    assert rejected.get_json()["state"] == "rejected" and rejected.get_json()["closed_at"]
    assert (
        client.get("/v1/requests?type=erasure&state=rejected", headers=headers).get_json()[0]["id"]
        == late["id"]
    )


def test_bad_requests(dpo):
    client, headers = dpo
    assert_problem(open_request(client, headers, type="objection"), 422)
    assert_problem(
        open_request(client, headers, type="rectification", verification={"method": "dpo", "note": "n"}), 422
    )
    assert_problem(open_request(client, headers, identities=[{"type": "phone", "value": "+4930"}]), 422)
    assert_problem(open_request(client, headers, verification={"method": "dpo"}), 422)
    assert_problem(open_request(client, headers, type="restriction", purposes=["ghost"]), 404)
    assert_problem(client.get("/v1/requests/req_nope", headers=headers), 404)
