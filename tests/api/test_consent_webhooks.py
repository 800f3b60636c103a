"""Consent webhooks and the filtered change feed: recipients following ``consent`` get signed
batches of consent events on a real HTTP server on 127.0.0.1, in order, each once, retried with
backoff after a failure; the feed filters by purpose and subject and names identity types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from consent_service import create_app
from consent_service.dsar import consent_hooks
from tests.api.helpers import assert_problem, consent_body
from tests.receivers import SECRET, Endpoint, serving

BATCH = 3


@pytest.fixture
def endpoint() -> Iterator[tuple[str, Endpoint]]:
    with serving() as served:
        yield served


@pytest.fixture
def other_endpoint() -> Iterator[tuple[str, Endpoint]]:
    with serving() as served:
        yield served


@pytest.fixture
def api(clocked_ctx: Any) -> tuple[Any, dict[str, str]]:
    from consent_service.auth.service import register_client
    from consent_service.demo import seed

    clocked_ctx.config = clocked_ctx.config.with_overrides(webhook_batch=BATCH)
    seed(clocked_ctx)
    client = create_app(context=clocked_ctx).test_client()
    return client, {"Authorization": f"Bearer {register_client(clocked_ctx, 'crm', ['admin'])[1]}"}


def follow(client: Any, headers: dict[str, str], key: str, url: str, events: list[str], **extra: Any) -> Any:
    body = {"name": key.title(), "endpoint": url, "secret": SECRET, "events": events, **extra}
    return client.put(f"/v1/recipients/{key}", headers=headers, json=body)


def record(client: Any, headers: dict[str, str], value: str, kind: str = "email") -> dict[str, Any]:
    response = client.post("/v1/consents", headers=headers, json=consent_body(value, kind))
    assert response.status_code == 201, response.get_data(as_text=True)
    return dict(response.get_json())


def seqs(endpoint: Endpoint) -> list[int]:
    return [event["seq"] for body in endpoint.received for event in body["events"]]


def test_batches_are_signed_in_order_without_history_or_personal_data(
    clocked_ctx: Any, api: Any, endpoint: Any, other_endpoint: Any
) -> None:
    client, headers = api
    url, state = endpoint
    record(client, headers, "before@example.org")  # seq 1, 2: before the subscription
    assert follow(client, headers, "crm", url, ["consent"]).status_code == 201
    assert follow(client, headers, "mailer", other_endpoint[0], ["erasure"]).status_code == 201
    for i in range(4):
        record(client, headers, f"u{i}@example.org")  # seq 3..10
    assert consent_hooks.deliver(clocked_ctx) == {"sent": 3, "events": 8, "failed": 0}
    assert state.bad_signatures == 0 and seqs(state) == list(range(3, 11))
    assert [len(body["events"]) for body in state.received] == [3, 3, 2]
    assert [(b["after"], b["next_after"], b["has_more"]) for b in state.received] == [
        (2, 5, True),
        (5, 8, True),
        (8, 10, False),
    ]
    first = state.received[0]
    feed = client.get("/v1/events?after=2&limit=3", headers=headers).get_json()["events"]
    assert first["events"] == feed  # the feed's shape
    assert first["event"] == "consent" and first["recipient"] == "crm"
    event = first["events"][0]
    assert event["purpose"] == "newsletter" and event["decision"] == "granted"
    assert event["identity_types"] == ["email"] and "proof" not in event
    assert event["recorded_at"].startswith(clocked_ctx.now().date().isoformat())
    sent = json.dumps(state.received)
    assert "@example.org" not in sent and "203.0.113.77" not in sent
    assert other_endpoint[1].received == []  # not following consent
    assert consent_hooks.deliver(clocked_ctx) == {"sent": 0, "events": 0, "failed": 0}
    [row] = consent_hooks.status(clocked_ctx)
    assert (row["recipient"], row["after_seq"], row["behind"], row["last_error"]) == ("crm", 10, 0, None)


def test_a_failing_receiver_is_retried_and_nothing_is_lost_or_doubled(
    clocked_ctx: Any, clock: Any, api: Any, endpoint: Any
) -> None:
    from consent_service.erasure.shred import shred_subject

    client, headers = api
    url, state = endpoint
    follow(client, headers, "crm", url, ["consent"])
    anna = record(client, headers, "anna@example.org")
    state.fail_next = 1
    assert consent_hooks.deliver(clocked_ctx) == {"sent": 0, "events": 0, "failed": 1}
    [row] = consent_hooks.status(clocked_ctx)
    assert row["after_seq"] == 0 and row["behind"] == 2 and row["attempts"] == 1
    assert "500" in row["last_error"]
    record(client, headers, "berta@example.org")
    assert consent_hooks.deliver(clocked_ctx)["failed"] == 0 and state.received == []  # backing off
    shred_subject(clocked_ctx, anna["subject_id"], actor_type="client", actor_id="crm")
    clock.advance(seconds=31)
    assert consent_hooks.deliver(clocked_ctx) == {"sent": 2, "events": 4, "failed": 0}
    assert seqs(state) == [1, 2, 3, 4]  # the shredded event (seq 5) is no consent decision
    by_subject = {e["subject_id"]: e["identity_types"] for b in state.received for e in b["events"]}
    assert by_subject[anna["subject_id"]] == []  # erased: its identities can no longer be found
    [row] = consent_hooks.status(clocked_ctx)
    assert row["after_seq"] == 5 and row["attempts"] == 0 and row["last_error"] is None


def test_subscribing_from_a_seq_and_its_checks(clocked_ctx: Any, api: Any, endpoint: Any) -> None:
    client, headers = api
    url, state = endpoint
    record(client, headers, "anna@example.org")
    record(client, headers, "berta@example.org")
    problem = assert_problem(follow(client, headers, "crm", url, ["erasure"], consent_after=0), 422)
    assert "consent_after" in problem["errors"]
    problem = assert_problem(follow(client, headers, "crm", url, ["consent"], consent_after=99), 422)
    assert "consent_after" in problem["errors"]
    assert follow(client, headers, "crm", url, ["consent"], consent_after=1).status_code == 201
    consent_hooks.deliver(clocked_ctx)
    assert seqs(state) == [2, 3, 4]
    follow(client, headers, "crm", url, ["consent", "erasure"], consent_after=0)  # a replay
    consent_hooks.deliver(clocked_ctx)
    assert seqs(state) == [2, 3, 4, 1, 2, 3, 4]
    follow(client, headers, "crm", url, ["erasure"])  # stops following: the cursor goes
    assert consent_hooks.status(clocked_ctx) == []


def test_the_feed_filters_by_purpose_and_subject_and_names_identity_types(api: Any) -> None:
    client, headers = api
    anna = record(client, headers, "anna@example.org")
    device = record(client, headers, "device-1234", kind="device_id")
    record(client, headers, "berta@example.org")
    linked = client.post(
        "/v1/subjects/link",
        headers=headers,
        json={
            "from": {"subject_id": device["subject_id"]},
            "to": {"subject_id": anna["subject_id"]},
        },
    )
    assert linked.status_code == 200, linked.get_data(as_text=True)

    def feed(query: str) -> list[dict[str, Any]]:
        response = client.get(f"/v1/events?{query}", headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        return list(response.get_json()["events"])

    everything = feed("")
    assert len(everything) == 7 and "device-1234" not in json.dumps(everything)
    types = {e["subject_id"]: e["identity_types"] for e in everything}
    assert types[anna["subject_id"]] == types[device["subject_id"]] == ["device_id", "email"]
    assert {e["purpose"] for e in feed("purpose=newsletter")} == {"newsletter"}
    assert len(feed("purpose=newsletter")) == 3
    assert feed("purpose=newsletter,unknown") == feed("purpose=unknown&purpose=newsletter")
    assert feed("purpose=unknown") == []
    mine = feed(f"subject_id={device['subject_id']}")
    assert {e["subject_id"] for e in mine} == {device["subject_id"]}
    assert [e["kind"] for e in mine] == ["consent", "consent", "linked"]
    page = client.get(f"/v1/events?purpose=newsletter&after={mine[0]['seq']}&limit=1", headers=headers)
    body = page.get_json()
    assert [e["seq"] for e in body["events"]] == [5] and body["next_after"] == 5 and body["has_more"]
