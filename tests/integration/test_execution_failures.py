"""Every run of a request ends in a defined state: a subject shredded before the run, an
unexpected error in the middle of it, and ``retry`` of a failed request (which shows a new run).

Fake connectors and the embedded SQLite service database, as in ``test_execution``.
"""

from __future__ import annotations

from typing import Any

import pytest

from consent_service import jobs
from consent_service.dsar import execution, package, retries
from consent_service.dsar.request_views import show
from consent_service.erasure.shred import shred_subject
from consent_service.errors import Conflict
from tests.integration.test_execution import Fakes, actions, fakes, open_verified  # noqa: F401 - fixture

__all__ = ["fakes"]


def shred(ctx: Any, request_id: str) -> None:
    shred_subject(ctx, show(ctx, request_id)["subject_id"], actor_type="client", actor_id="dpo")


def failures(ctx: Any, request_id: str) -> list[str]:
    trail = show(ctx, request_id)["audit_trail"]
    return [
        e["details"]["why"] for e in trail if e["action"] == "transition" and e["details"]["to"] == "failed"
    ]


@pytest.mark.parametrize("kind", ["access", "portability", "rectification"])
def test_a_request_whose_subject_was_shredded_fails_for_good_without_stores(ctx: Any, kind: str) -> None:
    extra = {"changes": {"name": "Anna B."}} if kind == "rectification" else {}
    request_id = open_verified(ctx, kind, **extra)
    shred(ctx, request_id)
    result = execution.run_request(ctx, request_id, actor="worker")
    assert result["request"]["state"] == "failed" and result["retryable"] is False
    detail = show(ctx, request_id)
    assert detail["state"] == "failed" and "crypto-shredded" in detail["failure_reason"]
    assert failures(ctx, request_id) == [detail["failure_reason"]]
    with pytest.raises(Conflict, match="reject it"):
        retries.retry(ctx, request_id, actor="dpo")


def test_an_access_request_whose_subject_was_shredded_fails_with_stores_too(ctx: Any, fakes: Fakes) -> None:
    request_id = open_verified(ctx, "access")
    shred(ctx, request_id)
    result = execution.run_request(ctx, request_id, actor="worker", opener=fakes.open)
    assert result["request"]["state"] == "failed" and result["retryable"] is False
    assert not fakes.shop.calls  # nothing was read for a subject nobody can be matched to any more


def test_an_erasure_with_every_store_done_still_completes_after_a_shred(ctx: Any) -> None:
    request_id = open_verified(ctx, "erasure")
    shred(ctx, request_id)
    result = execution.run_request(ctx, request_id, actor="worker")
    assert result["request"]["state"] == "completed"


def test_an_unexpected_error_fails_the_run_with_a_reason_that_names_no_data(
    ctx: Any, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = open_verified(ctx, "access")

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise KeyError("anna@example.org")

    monkeypatch.setattr(package, "build", broken)
    result = execution.run_request(ctx, request_id, actor="worker", opener=fakes.open)
    assert result["request"]["state"] == "failed" and result["retryable"] is True
    reason = show(ctx, request_id)["failure_reason"]
    assert "KeyError" in reason and "anna" not in reason and "Traceback" not in reason
    assert failures(ctx, request_id) == [reason]


def test_retry_puts_a_failed_request_back_in_progress_for_a_new_run(ctx: Any, fakes: Fakes) -> None:
    request_id = open_verified(ctx, "erasure")
    fakes.crm.broken = True
    assert (
        execution.run_request(ctx, request_id, actor="worker", opener=fakes.open)["request"]["state"]
        == "failed"
    )
    assert "crm" in show(ctx, request_id)["failure_reason"]
    again = retries.retry(ctx, request_id, actor="dpo")
    assert again["state"] == "in_progress" and again["failure_reason"] is None
    assert actions(show(ctx, request_id))[-2:] == ["retry_requested", "transition"]
    fakes.crm.broken = False
    assert (
        execution.run_request(ctx, request_id, actor="worker", opener=fakes.open)["request"]["state"]
        == "completed"
    )


def test_retry_of_a_request_with_nothing_to_run_is_a_conflict(ctx: Any, fakes: Fakes) -> None:
    restriction = open_verified(ctx, "restriction")
    with pytest.raises(Conflict, match="take effect when verified"):
        retries.retry(ctx, restriction, actor="dpo")
    access = open_verified(ctx, "access")
    execution.run_request(ctx, access, actor="worker", opener=fakes.open)
    with pytest.raises(Conflict, match="completed"):
        retries.retry(ctx, access, actor="dpo")


def test_the_worker_does_not_retry_a_run_that_can_never_succeed(ctx: Any) -> None:
    request_id = open_verified(ctx, "access")
    shred(ctx, request_id)
    jobs._embedded_ctx[request_id] = ctx
    jobs._execute_request(request_id)  # no RunFailed: Dramatiq would only repeat the failure
    assert show(ctx, request_id)["state"] == "failed"
