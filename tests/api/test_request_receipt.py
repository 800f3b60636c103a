"""Requests that came by post or e-mail: entered with their real receipt time, which the
deadline counts from in the controller's calendar; a future or naive receipt time is a 422."""

from __future__ import annotations

import pytest

from consent_service import create_app
from tests.api.helpers import assert_problem


@pytest.fixture
def bavarian_dpo(clocked_ctx):
    from consent_service.auth.service import register_client
    from consent_service.demo import seed

    clocked_ctx.config = clocked_ctx.config.with_overrides(holidays="DE-BY", timezone="Europe/Berlin")
    seed(clocked_ctx)
    client = create_app(context=clocked_ctx).test_client()
    headers = {"Authorization": f"Bearer {register_client(clocked_ctx, 'dpo', ['dsar:manage'])[1]}"}
    return client, headers


def open_request(client, headers, **body):
    payload = {
        "type": "access",
        "identities": [{"type": "email", "value": "anna@example.org"}],
        "verification": {"method": "dpo", "note": "letter signed and checked"},
    }
    payload.update(body)
    return client.post("/v1/requests", headers=headers, json=payload)


def test_a_letter_entered_later_counts_from_its_receipt_in_the_controllers_calendar(bavarian_dpo):
    client, headers = bavarian_dpo
    # 00:30 on 6 December 2025 in Berlin; one month on is 6 January, Epiphany in Bavaria
    created = open_request(client, headers, received_at="2025-12-05T23:30:00+00:00")
    assert created.status_code == 201, created.get_json()
    request = created.get_json()
    assert request["received_at"].startswith("2025-12-05T23:30:00")
    assert request["due_at"].startswith("2026-01-07T22:59:59")  # end of 7 January in Berlin
    shown = client.get(f"/v1/requests/{request['id']}", headers=headers).get_json()
    assert shown["overdue"] is True  # the clock says 31 January 2026
    received = next(e for e in shown["audit_trail"] if e["action"] == "received")
    assert received["details"]["entered_by_hand"] is True
    assert received["details"]["received_at"].startswith("2025-12-05T23:30:00")
    # the first month has ended: too late to extend
    assert_problem(
        client.post(
            f"/v1/requests/{request['id']}/extend", headers=headers, json={"months": 2, "reason": "x"}
        ),
        409,
    )


def test_a_request_opened_now_counts_from_now_in_the_controllers_calendar(bavarian_dpo):
    client, headers = bavarian_dpo
    request = open_request(client, headers).get_json()
    assert request["received_at"].startswith("2026-01-31T12:00:00")
    assert request["due_at"].startswith("2026-03-02T22:59:59")  # 28 February is a Saturday
    shown = client.get(f"/v1/requests/{request['id']}", headers=headers).get_json()
    received = next(e for e in shown["audit_trail"] if e["action"] == "received")
    assert "entered_by_hand" not in received["details"]


@pytest.mark.parametrize(
    ("received_at", "message"),
    [
        ("2026-01-31T12:00:01+00:00", "future"),
        ("2027-01-01T00:00:00+01:00", "future"),
        ("2018-05-24T23:59:59+00:00", "2018-05-25"),
        ("0001-01-01T00:00:00+01:00", "2018-05-25"),  # no overflow into a 500
        ("9999-12-31T23:59:59-01:00", "future"),
        ("2026-01-10T10:00:00", ""),  # no offset
        ("31.01.2026", ""),
    ],
)
def test_a_receipt_in_the_future_before_the_gdpr_or_without_offset_is_refused(
    bavarian_dpo, received_at, message
):
    client, headers = bavarian_dpo
    problem = assert_problem(open_request(client, headers, received_at=received_at), 422)
    assert message in " ".join(problem["errors"]["received_at"])
    assert client.get("/v1/requests", headers=headers).get_json() == []  # nothing written
