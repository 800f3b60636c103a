"""Recipients (GDPR Art. 19): registration over the API, and signed webhooks written to the
outbox with the change and delivered to a real HTTP server on 127.0.0.1 after commit,
retried with backoff, and still delivered after the subject is crypto-shredded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_service import create_app
from consent_service.dsar import execution, outbox
from tests.api.helpers import assert_problem, crm_store
from tests.receivers import SECRET, Endpoint, serving


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Endpoint]]:
    with serving() as served:
        yield served


@pytest.fixture
def dpo(clocked_ctx: Any) -> tuple[Any, dict[str, str]]:
    from consent_service.auth.service import register_client
    from consent_service.demo import seed

    seed(clocked_ctx)
    client = create_app(context=clocked_ctx).test_client()
    return client, {"Authorization": f"Bearer {register_client(clocked_ctx, 'dpo', ['dsar:manage'])[1]}"}


def add_recipient(client: Any, headers: dict[str, str], url: str, events: list[str]) -> Any:
    body = {"name": "Mailing partner", "endpoint": url, "secret": SECRET, "events": events}
    return client.put("/v1/recipients/mailer", headers=headers, json=body)


def open_request(client: Any, headers: dict[str, str], kind: str, **extra: Any) -> dict[str, Any]:
    body = {
        "type": kind,
        "identities": [{"type": "email", "value": "anna@example.org"}],
        "verification": {"method": "dpo", "note": "seen in person"},
        **extra,
    }
    created = client.post("/v1/requests", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    return created.get_json()


def test_register_and_list_without_the_secret(dpo: Any, token: Any) -> None:
    client, headers = dpo
    created = add_recipient(client, headers, "https://localhost/partner-hooks", ["erasure", "restriction"])
    assert created.status_code == 201 and "secret" not in created.get_json()
    listed = client.get("/v1/recipients", headers=headers)
    assert listed.get_json()[0]["events"] == ["erasure", "restriction"] and SECRET not in listed.text
    again = client.put(
        "/v1/recipients/mailer",
        headers=headers,
        json={
            "name": "Renamed",
            "endpoint": "https://localhost/h",
            "secret": "***",
            "events": ["erasure"],
        },
    )
    assert again.status_code == 200 and again.get_json()["name"] == "Renamed"
    bad = {"name": "x", "endpoint": "ftp://x", "secret": "short", "events": ["erasure"]}
    problem = assert_problem(client.put("/v1/recipients/bad", headers=headers, json=bad), 422)
    assert "endpoint" in problem["errors"] and "secret" in problem["errors"]
    wrong_event = {"name": "x", "endpoint": "https://x", "secret": SECRET, "events": ["access"]}
    assert_problem(client.put("/v1/recipients/bad", headers=headers, json=wrong_event), 422)
    assert_problem(client.get("/v1/recipients/nope", headers=headers), 404)
    other = {"Authorization": f"Bearer {token('consent:write')}"}
    assert_problem(client.get("/v1/recipients", headers=other), 403)


def test_restriction_applied_and_lifted_are_signed_webhooks(dpo: Any, endpoint: Any) -> None:
    client, headers = dpo
    url, state = endpoint
    assert add_recipient(client, headers, url, ["restriction"]).status_code == 201
    request = open_request(client, headers, "restriction", purposes=["analytics"])
    assert request["state"] == "completed"
    assert len(state.received) == 1 and state.bad_signatures == 0
    applied = state.received[0]
    assert applied["event"] == "restriction" and applied["action"] == "applied"
    assert applied["request_id"] == request["id"] and applied["subject_id"] == request["subject_id"]
    assert applied["purposes"] == ["analytics"] and applied["occurred_at"]
    lifted = client.post(
        f"/v1/requests/{request['id']}/lift", headers=headers, json={"reason": "accuracy checked"}
    )
    assert lifted.status_code == 200
    assert [m["action"] for m in state.received] == ["applied", "lifted"]
    open_request(client, headers, "objection", purposes=["analytics"])  # not a recipient event
    assert len(state.received) == 2


def test_a_failing_endpoint_is_retried_and_a_shredded_subject_still_gets_told(
    clocked_ctx: Any, clock: Any, dpo: Any, endpoint: Any
) -> None:
    from consent_service.erasure.shred import shred_subject

    client, headers = dpo
    url, state = endpoint
    add_recipient(client, headers, url, ["restriction"])
    state.fail_next = 1
    request = open_request(client, headers, "restriction")
    # (the person's e-mails wait too: this test wires no SMTP server)
    [message] = [m for m in outbox.pending(clocked_ctx) if m["kind"] == "webhook"]
    assert message["state"] == "pending" and "500" in message["last_error"]
    shred_subject(clocked_ctx, request["subject_id"], actor_type="client", actor_id="dpo")
    only = [message["id"]]
    assert outbox.deliver(clocked_ctx, only=only) == {"sent": 0, "failed": 0, "dead": 0}  # backing off
    clock.advance(seconds=31)
    assert outbox.deliver(clocked_ctx, only=only) == {"sent": 1, "failed": 0, "dead": 0}
    assert [m for m in outbox.pending(clocked_ctx) if m["kind"] == "webhook"] == []
    assert state.received[0]["request_id"] == request["id"]


def test_completed_erasure_and_rectification_tell_recipients(
    clocked_ctx: Any, dpo: Any, endpoint: Any, tmp_path: Path
) -> None:
    client, headers = dpo
    url, state = endpoint
    add_recipient(client, headers, url, ["erasure", "rectification"])
    crm_store(client, headers, tmp_path)
    fix = open_request(client, headers, "rectification", changes={"name": "Anna Berg"})
    assert execution.run_request(clocked_ctx, fix["id"], actor="dpo")["request"]["state"] == "completed"
    assert state.received[-1]["event"] == "rectification" and state.received[-1]["fields"] == ["name"]
    assert "Anna Berg" not in json.dumps(state.received)
    erase = open_request(client, headers, "erasure")
    assert execution.run_request(clocked_ctx, erase["id"], actor="dpo")["request"]["state"] == "completed"
    assert state.received[-1]["event"] == "erasure" and state.received[-1]["request_id"] == erase["id"]
    assert len(state.received) == 2 and state.bad_signatures == 0
