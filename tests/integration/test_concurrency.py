"""Concurrent writers in separate processes never lose, duplicate or fork ledger events.

Processes (``spawn``), not threads: each has its own interpreter, engine and connections, as
gunicorn workers do. Every event a writer got back must be in the ledger at the seq it was told,
seqs run 1..N without gaps, and each prev_hash is the previous event's hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger import counts
from consent_service.ledger.audit import verify
from consent_service.ledger.models import GENESIS_HASH, LedgerHead
from consent_service.ledger.stats import catch_up
from consent_service.subjects.models import Identity, Subject
from tests.integration.consent_writes import fold_ledger
from tests.integration.helpers import WorkerPool, events_of

POOL_SIZE = 8


@pytest.fixture(scope="module")
def pool() -> Iterator[WorkerPool]:
    workers = WorkerPool(POOL_SIZE)
    yield workers
    workers.close()


def assert_ledger_intact(ctx: Context, reports: list[dict[str, Any]], writers: int) -> None:
    errors = [r["error"] for r in reports if "error" in r]
    assert not errors, "\n".join(errors)
    assert sorted(r["worker"] for r in reports) == list(range(writers))
    acknowledged = [event for r in reports for event in r["events"]]
    seqs = [seq for seq, _, _ in acknowledged]
    assert len(seqs) == len(set(seqs)), "two writers were given the same seq"

    stored = events_of(ctx)
    assert [e["seq"] for e in stored] == list(range(1, len(stored) + 1)), "gap or disorder in seqs"
    assert len(stored) == len(acknowledged), "events in the ledger that no writer was told about"
    by_seq = {e["seq"]: e for e in stored}
    for seq, event_id, hash_ in acknowledged:
        assert seq in by_seq, f"acknowledged event at seq {seq} is missing"
        assert (by_seq[seq]["id"], by_seq[seq]["hash"]) == (event_id, hash_)

    prev = GENESIS_HASH
    for event in stored:
        assert event["prev_hash"] == prev, f"fork at seq {event['seq']}"
        prev = event["hash"]
    with ctx.uow(write=False) as uow:
        head = uow.session.get(LedgerHead, 1)
        assert head is not None
        assert (head.seq, head.hash) == (len(stored), prev)
    report = verify(ctx)
    assert report.ok, report.as_dict()


def concurrent_appends(pool: WorkerPool, ctx: Context, data_dir: Path, writers: int, count: int) -> None:
    seed(ctx)
    seeded = catch_up(ctx)  # the demo's own events
    reports = pool.run(
        "append",
        lambda i: (ctx.db.url, ctx.config.master_keys, str(data_dir), i, count),
        workers=writers,
        rounds=1,
    )
    assert_ledger_intact(ctx, reports, writers)
    # each request of 40 appends 1 or 2 events (every third one also decides on ads)
    per_writer = count + len(range(0, count, 3))
    assert len(events_of(ctx)) == writers * per_writer
    # the odd writers' catch-ups raced each other and the writes: each seq was counted once
    counted = sum(r["counted"] for r in reports) + catch_up(ctx)
    with ctx.uow(write=False) as uow:
        head = counts.head_seq(uow.session)
        assert counts.snapshot(uow.session) == fold_ledger(ctx)
    assert counted == head - seeded
    assert any(r["counted"] for r in reports)


@pytest.mark.postgres
def test_eight_processes_append_to_postgres_without_loss_or_fork(
    pool: WorkerPool, pg_ctx: Context, tmp_path: Path
) -> None:
    concurrent_appends(pool, pg_ctx, tmp_path, writers=8, count=40)


def test_four_processes_append_to_sqlite_without_loss_or_fork(
    pool: WorkerPool, ctx: Context, tmp_path: Path
) -> None:
    concurrent_appends(pool, ctx, tmp_path, writers=4, count=25)


@pytest.mark.postgres
def test_one_new_identity_created_by_eight_writers_at_once_is_one_subject(
    pool: WorkerPool, pg_ctx: Context, tmp_path: Path
) -> None:
    seed(pg_ctx)
    names = [f"shared{n}" for n in range(3)]
    reports = pool.run(
        "same_identity",
        lambda i: (pg_ctx.db.url, pg_ctx.config.master_keys, str(tmp_path), names),
        workers=8,
        rounds=len(names),
    )
    errors = [r["error"] for r in reports if "error" in r]
    assert not errors, "\n".join(errors)
    for n, name in enumerate(names):
        outcomes = [r["results"][n] for r in reports]
        assert {o[0] for o in outcomes} == {name}
        subject_ids = {o[1] for o in outcomes}
        assert len(subject_ids) == 1, f"{name} became {len(subject_ids)} subjects"
        assert sum(o[2] for o in outcomes) == 1, "exactly one writer may report creating the subject"
    with pg_ctx.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Subject)) == len(names)
        assert uow.session.scalar(select(func.count()).select_from(Identity)) == len(names)
    stored = events_of(pg_ctx)
    assert len(stored) == 8 * len(names)
    assert verify(pg_ctx).ok
