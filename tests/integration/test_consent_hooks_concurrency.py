"""Two workers delivering consent webhooks at the same time against PostgreSQL never send the
same batch twice: the second one skips the cursor the first one holds."""

from __future__ import annotations

import threading

import pytest

from consent_service import create_app
from consent_service.auth.service import register_client
from consent_service.context import Context
from consent_service.demo import seed
from consent_service.dsar import consent_hooks, recipients
from tests.api.helpers import consent_body
from tests.receivers import SECRET, serving


@pytest.mark.postgres
def test_two_workers_at_once_send_each_batch_once(pg_ctx: Context) -> None:
    pg_ctx.config = pg_ctx.config.with_overrides(webhook_batch=5)
    seed(pg_ctx)
    with serving() as (url, state):
        doc = {"name": "CRM", "endpoint": url, "secret": SECRET, "events": ["consent"]}
        recipients.save_recipient(pg_ctx, "crm", doc)
        client = create_app(context=pg_ctx).test_client()
        headers = {"Authorization": f"Bearer {register_client(pg_ctx, 'crm', ['consent:write'])[1]}"}
        for i in range(6):  # two events each
            response = client.post("/v1/consents", headers=headers, json=consent_body(f"u{i}@example.org"))
            assert response.status_code == 201
        state.hold = threading.Event()  # the first batch waits until both workers have started
        results: list[dict[str, int]] = []

        def worker() -> None:
            results.append(consent_hooks.deliver(pg_ctx))

        first = threading.Thread(target=worker)
        first.start()
        assert state.arrived.wait(30)  # the first worker holds the cursor and is sending
        second = threading.Thread(target=worker)
        second.start()
        second.join(30)
        assert results == [{"sent": 0, "events": 0, "failed": 0}]  # it found nothing to claim
        state.hold.set()
        first.join(30)
    assert results[1] == {"sent": 3, "events": 12, "failed": 0}
    sent = [e["seq"] for body in state.received for e in body["events"]]
    assert sent == list(range(1, 13)) and state.bad_signatures == 0
    [row] = consent_hooks.status(pg_ctx)
    assert row["after_seq"] == 12 and row["behind"] == 0
