"""Unsubscribe clicks racing on SQLite and PostgreSQL: of many at once, one records the
withdrawal and the others find it done, because the check runs under the ledger's head lock."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select

from consent_service.demo import seed
from consent_service.ledger import service as ledger
from consent_service.ledger.models import LedgerEvent
from consent_service.preferences import unsubscribe as unsub
from consent_service.subjects.service import IdentityRef


def test_racing_clicks_record_one_withdrawal(any_ctx: Any) -> None:
    seed(any_ctx)
    recorded = ledger.record_consent(
        any_ctx,
        ledger.RecordConsent(
            decisions=[ledger.DecisionInput("purpose", "newsletter", True)],
            channel="crm",
            method="api",
            actor_type="client",
            actor_id="test",
            subject=IdentityRef("email", "racer@example.org"),
        ),
    )
    token = unsub.link(any_ctx, recorded.subject_id, "newsletter")["url"].split("token=", 1)[1]
    results: list[bool] = []
    barrier = threading.Barrier(6)

    def click() -> None:
        barrier.wait()
        results.append(unsub.unsubscribe(any_ctx, token, way="one_click"))

    threads = [threading.Thread(target=click) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 5 + [True]
    with any_ctx.uow(write=False) as uow:
        decisions = list(
            uow.session.scalars(
                select(LedgerEvent.decision)
                .where(LedgerEvent.subject_id == recorded.subject_id, LedgerEvent.target_key == "newsletter")
                .order_by(LedgerEvent.seq)
            )
        )
    assert decisions == ["granted", "withdrawn"]
    assert unsub.inspect(any_ctx, token).done
