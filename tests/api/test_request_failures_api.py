"""A failed request over HTTP: its reason is shown, ``/retry`` visibly starts a new run, and a
request no run can execute (subject shredded) answers 409 instead of hanging in_progress."""

from __future__ import annotations

from typing import Any

from consent_service.dsar import execution, retries
from tests.api.helpers import assert_problem
from tests.api.test_execution_api import open_verified, run_queued


def test_a_shredded_subject_fails_the_request_and_retry_is_a_conflict(
    client: Any, admin: dict[str, str], ctx: Any
) -> None:
    request_id = open_verified(client, admin, "access")
    subject = client.get(f"/v1/requests/{request_id}", headers=admin).get_json()["subject_id"]
    assert client.post(f"/v1/subjects/{subject}/shred", headers=admin).status_code == 200
    execution.run_request(ctx, request_id, actor="worker")
    shown = client.get(f"/v1/requests/{request_id}", headers=admin).get_json()
    assert shown["state"] == "failed" and "crypto-shredded" in shown["failure_reason"]
    problem = assert_problem(client.post(f"/v1/requests/{request_id}/retry", headers=admin), 409)
    assert "reject" in problem["detail"]
    rejected = client.post(
        f"/v1/requests/{request_id}/reject", headers=admin, json={"ground": "other", "reason": "data erased"}
    )
    assert rejected.status_code == 200 and rejected.get_json()["state"] == "rejected"


def test_retry_of_a_failed_request_answers_in_progress_and_runs_again(
    client: Any, admin: dict[str, str], ctx: Any, monkeypatch: Any
) -> None:
    from consent_service.dsar import package

    request_id = open_verified(client, admin, "access")
    real_build = package.build

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(package, "build", broken)
    execution.run_request(ctx, request_id, actor="worker")
    failed = client.get(f"/v1/requests/{request_id}", headers=admin).get_json()
    assert failed["state"] == "failed" and "RuntimeError" in failed["failure_reason"]
    monkeypatch.setattr(package, "build", real_build)
    queued = client.post(f"/v1/requests/{request_id}/retry", headers=admin)
    assert queued.status_code == 202
    assert queued.get_json()["state"] == "in_progress" and queued.get_json()["failure_reason"] is None
    assert run_queued(client, admin, request_id)["state"] == "completed"


def test_retry_hands_a_runnable_request_to_the_wired_queue_and_nothing_else(
    client: Any, admin: dict[str, str], ctx: Any
) -> None:
    queued: list[str] = []
    ctx.caches[retries.QUEUE] = lambda context, request_id: queued.append(request_id)
    request_id = open_verified(client, admin, "access")
    answer = client.post(f"/v1/requests/{request_id}/retry", headers=admin)
    assert answer.status_code == 202 and answer.get_json()["state"] == "verified"
    assert queued == [request_id]
    rejected = client.post(
        f"/v1/requests/{request_id}/reject", headers=admin, json={"ground": "other", "reason": "asked twice"}
    )
    assert rejected.status_code == 200
    assert_problem(client.post(f"/v1/requests/{request_id}/retry", headers=admin), 409)
    assert queued == [request_id]
