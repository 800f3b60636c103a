"""Stores a request waits for: opening manual tasks, and replaying what deferred stores sent.

``open_task`` is called when a store's run is recorded ``pending``: for a manual store it opens
one task (never two open ones for the same request and store). A deferred store whose run was
later resolved (task completed, signed callback received) is marked ``resolved`` in its run;
``resolved_opener`` makes a re-run read such a store from what it sent (``RecordedConnector``)
instead of asking it again, so an access request can build its package once every store answered.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.envelope import DecryptionFailed, field_aad, open_sealed
from consent_service.dsar.execution_models import DsarStoreRun
from consent_service.dsar.request_models import DsarRequest
from consent_service.dsar.task_models import DsarTask
from consent_service.stores.connectors.base import Check, Connector, EraseResult, Row
from consent_service.stores.models import DataStore
from consent_service.stores.registry import load_spec
from consent_service.stores.spec import StoreSpec
from consent_service.subjects import service as subjects

Opener = Callable[[str], AbstractContextManager[Connector]]


def records_aad(request: DsarRequest, store: str) -> bytes:
    return field_aad(request.subject_id, "dsar_store_runs", "records", f"{request.id}:{store}")


def open_task(
    session: Session, request: DsarRequest, store: str, detail: Mapping[str, Any], now: dt.datetime
) -> str | None:
    """Open a task for a manual store's pending run (in the caller's transaction); its id or None."""
    kind = session.scalar(select(DataStore.type).where(DataStore.key == store))
    if kind != "manual":
        return None
    existing = session.scalar(
        select(DsarTask.id).where(
            DsarTask.request_id == request.id, DsarTask.store == store, DsarTask.state == "open"
        )
    )
    if existing is not None:
        return existing
    task = dict(detail.get("task") or {})
    steps = str(task.get("instructions") or f"handle the {request.type} in store {store}")
    due: dt.datetime | None = None
    if isinstance(task.get("due"), str):
        try:
            due = dt.datetime.fromisoformat(task["due"])
        except ValueError:
            due = None
    task_id = "task_" + secrets.token_hex(8)
    session.add(
        DsarTask(
            id=task_id,
            request_id=request.id,
            store=store,
            instructions=f"{request.type}: {steps}",
            due_at=due,
            state="open",
            created_at=now,
        )
    )
    return task_id


def open_tasks(session: Session, request_id: str) -> int:
    return len(
        session.scalars(
            select(DsarTask.id).where(DsarTask.request_id == request_id, DsarTask.state == "open")
        ).all()
    )


class RecordedConnector(Connector):
    """A resolved deferred store, read back from what it sent; it writes nothing."""

    def __init__(self, spec: StoreSpec, records: Sequence[Row]) -> None:
        self.spec = spec
        self.records = [dict(r) for r in records]

    def check(self) -> list[Check]:
        return [Check(name, True) for name in self.spec.collections]

    def find(self, collection: str, field: str, values: Sequence[Any]) -> list[Row]:
        # the store already selected the subject's records: every one of the collection counts
        only = len(self.spec.collections) == 1
        return [
            {k: v for k, v in r.items() if k != "collection"}
            for r in self.records
            if r.get("collection") == collection or (only and "collection" not in r)
        ]

    def erase(self, collection: str, rows: Sequence[Row], actions: Mapping[str, str]) -> EraseResult:
        return EraseResult()

    def rectify(self, collection: str, rows: Sequence[Row], changes: Mapping[str, Any]) -> int:
        return 0


def resolved_opener(ctx: Context, request_id: str, opener: Opener) -> Opener:
    """``opener`` except for stores whose deferred run was resolved: those replay their records."""
    with ctx.uow(write=False) as uow:
        session = uow.session
        request = session.get(DsarRequest, request_id)
        resolved: dict[str, list[Row]] = {}
        runs = session.scalars(
            select(DsarStoreRun).where(DsarStoreRun.request_id == request_id, DsarStoreRun.status == "done")
        )
        for run in runs:
            if not run.detail.get("resolved"):
                continue
            if request is None:
                continue
            records: list[Row] = []
            key = subjects.data_key(session, ctx.crypto, request.subject_id)
            if run.records_ct is not None and key is not None:
                try:
                    records = json.loads(open_sealed(key, run.records_ct, records_aad(request, run.store)))
                except DecryptionFailed:
                    records = []
            resolved[run.store] = records

    @contextmanager
    def open_store(key: str) -> Iterator[Connector]:
        if key in resolved:
            spec, _ = load_spec(ctx, key)
            yield RecordedConnector(spec, resolved[key])
            return
        with opener(key) as connector:
            yield connector

    return open_store
