"""Group commit: the consent writes of one process's threads share one transaction and commit.

Real databases (a SQLite file, PostgreSQL), real threads. To make a batch of several jobs
certain rather than likely, a first write holds its batch open (a slow ``within``) until the
other threads' jobs have queued behind it; they then form the next batch together.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.db import UnitOfWork
from consent_service.demo import seed
from consent_service.erasure.shred import shred_subject
from consent_service.errors import Conflict, UnknownReference
from consent_service.ledger import projection, queries
from consent_service.ledger.audit import verify
from consent_service.ledger.models import LedgerEvent, LedgerHead, ProofKey
from consent_service.ledger.sequencer import sequencer
from consent_service.ledger.service import DecisionInput, RecordConsent, Recorded, record_consent
from tests.integration.helpers import consent, email, events_of

Within = Callable[[Session, str, list[dict[str, Any]]], None]
WAIT = 20.0  # seconds a test waits for threads before it calls the sequencer stuck


def write(
    ctx: Context,
    who: str,
    *decisions: tuple[str, bool],
    within: Within | None = None,
    subject_id: str | None = None,
) -> Recorded:
    return record_consent(
        ctx,
        RecordConsent(
            decisions=[DecisionInput("purpose", key, granted) for key, granted in decisions],
            channel="api",
            method="api",
            actor_type="client",
            actor_id="group-commit-test",
            subject=None if subject_id else email(who),
            subject_id=subject_id,
            within=within,
        ),
    )


def hold_until_queued(ctx: Context, jobs: int, holding: threading.Event) -> Within:
    """A ``within`` that keeps its batch open until ``jobs`` more jobs wait behind it."""

    def hold(_session: Session, _subject: str, _rows: list[dict[str, Any]]) -> None:
        holding.set()
        deadline = time.monotonic() + WAIT
        while sequencer(ctx).queued < jobs:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {sequencer(ctx).queued} of {jobs} jobs queued")
            time.sleep(0.005)

    return hold


def run_threads(calls: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run each call in its own thread; each one's result or the exception it raised."""
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        try:
            results[index] = calls[index]()
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + WAIT
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [i for i, thread in enumerate(threads) if thread.is_alive()]
    assert not stuck, f"writers {stuck} never returned: a leader is stuck"
    return results


def held_batch(ctx: Context, others: Sequence[Callable[[], Any]], lead: Within | None = None) -> list[Any]:
    """A first write holds its batch until every call of ``others`` has queued its job, so that
    those jobs run together in the next batch. Results: the first write's, then the others'."""
    holding = threading.Event()  # the first write is in its batch: the others queue behind it
    hold = hold_until_queued(ctx, len(others), holding)
    first_within: Within = hold
    if lead is not None:

        def first_within(session: Session, subject: str, rows: list[dict[str, Any]]) -> None:
            hold(session, subject, rows)
            lead(session, subject, rows)

    def first() -> Any:
        return write(ctx, "holder", ("analytics", True), within=first_within)

    def after_hold(call: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            assert holding.wait(WAIT), "the first write never reached its batch"
            return call()

        return run

    return run_threads([first, *[after_hold(call) for call in others]])


def head_seq(ctx: Context) -> int:
    with ctx.uow(write=False) as uow:
        head = uow.session.get(LedgerHead, 1)
        assert head is not None
        return head.seq


def count(ctx: Context, model: Any, *where: Any) -> int:
    with ctx.uow(write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def subject_of(ctx: Context, who: str) -> str | None:
    return queries.resolve_subject(ctx, email(who))


def projection_is_a_rebuild(ctx: Context) -> None:
    with ctx.uow(write=False) as uow:
        live = projection.snapshot(uow.session)
    with ctx.uow() as uow:
        projection.rebuild(uow.session)
        uow.commit()
    with ctx.uow(write=False) as uow:
        assert projection.snapshot(uow.session) == live


def test_concurrent_writers_share_batches_and_keep_one_intact_chain(any_ctx: Context) -> None:
    seed(any_ctx)
    base = head_seq(any_ctx)
    seq = sequencer(any_ctx)
    jobs_before = seq.jobs

    def writer(thread: int) -> Callable[[], list[Recorded]]:
        # threads 2k and 2k+1 write for the same person; grants and refusals alternate
        def run() -> list[Recorded]:
            return [
                write(any_ctx, f"w{thread // 2}", ("analytics", (thread + n) % 2 == 0), ("ads", n % 3 == 0))
                for n in range(10)
            ]

        return run

    results = held_batch(any_ctx, [writer(t) for t in range(16)])
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors
    recorded = [r for batch in results[1:] for r in batch] + [results[0]]
    assert len(recorded) == 161
    assert seq.jobs - jobs_before == 161
    assert seq.largest_batch >= 16, seq.counters()  # the 16 queued behind the holder: one batch

    seqs = sorted(event["seq"] for r in recorded for event in r.events)
    assert seqs == list(range(base + 1, base + 2 + 2 * 160)), "gaps or duplicates in the seqs"
    stored = {e["id"]: e for e in events_of(any_ctx)}
    for r in recorded:  # what each writer was told is what the ledger holds
        for event in r.events:
            assert (stored[event["id"]]["seq"], stored[event["id"]]["hash"]) == (event["seq"], event["hash"])
        named = r.receipt["payload"]["services"][0]["purposes"]
        assert [(p["eventId"], p["ledgerSeq"]) for p in named] == [(e["id"], e["seq"]) for e in r.events]
    # a refusal is "withdrawn" exactly when the person's previous decision (in seq order, across
    # the jobs of one batch) was a grant: each job saw the jobs before it
    last: dict[tuple[str, str], str] = {}
    for event in sorted(stored.values(), key=lambda e: e["seq"]):
        if event["kind"] != "consent" or event["actor_id"] != "group-commit-test":
            continue
        cell = (event["subject_id"], event["target_key"])
        if event["decision"] in ("withdrawn", "denied"):
            expected = "withdrawn" if last.get(cell) == "granted" else "denied"
            assert event["decision"] == expected, event["seq"]
        last[cell] = event["decision"]
    assert len({r.subject_id for r in recorded}) == 9  # eight people and the holder
    report = verify(any_ctx)
    assert report.ok, report.as_dict()
    projection_is_a_rebuild(any_ctx)


def test_a_refused_job_writes_nothing_and_leaves_its_batch_alone(any_ctx: Context) -> None:
    seed(any_ctx)
    erased = consent(any_ctx, identity=email("erased")).subject_id
    shred_subject(any_ctx, erased, actor_type="client", actor_id="dpo")
    base = head_seq(any_ctx)
    proof_keys = count(any_ctx, ProofKey)
    erased_events = count(any_ctx, LedgerEvent, LedgerEvent.subject_id == erased)  # grant, erasure
    seq = sequencer(any_ctx)
    batches = seq.batches

    def refuse(_session: Session, _subject: str, _rows: list[dict[str, Any]]) -> None:
        raise Conflict("refused after the subject, its events and its projection were written")

    results = held_batch(
        any_ctx,
        [
            lambda: write(any_ctx, "ann", ("analytics", True)),
            lambda: write(any_ctx, "late", ("analytics", True), ("ads", True), within=refuse),
            lambda: write(any_ctx, "gone", ("analytics", True), subject_id=erased),
            lambda: write(any_ctx, "ben", ("ads", False)),
            lambda: write(any_ctx, "nobody", ("no-such-purpose", True)),
            lambda: write(any_ctx, "cid", ("newsletter", True)),
        ],
    )
    holder, ann, late, gone, ben, nobody, cid = results
    assert seq.batches - batches == 2 and seq.largest_batch >= 6, seq.counters()
    assert isinstance(late, Conflict) and "refused after" in late.detail
    assert isinstance(gone, Conflict) and "erased" in gone.detail
    assert isinstance(nobody, UnknownReference)
    written = [holder, ann, ben, cid]
    assert all(isinstance(r, Recorded) for r in written), written
    # the refused jobs left no gap: the others' events follow each other
    assert sorted(e["seq"] for r in written for e in r.events) == list(range(base + 1, base + 5))
    assert head_seq(any_ctx) == base + 4
    # "late" had created its subject, events, proof keys and projection rows: all rolled back
    assert subject_of(any_ctx, "late") is None and subject_of(any_ctx, "nobody") is None
    assert count(any_ctx, LedgerEvent, LedgerEvent.subject_id == erased) == erased_events
    assert count(any_ctx, LedgerEvent) == base + 4
    assert count(any_ctx, ProofKey) == proof_keys + 4
    report = verify(any_ctx)
    assert report.ok, report.as_dict()
    projection_is_a_rebuild(any_ctx)


def database_error(_session: Session, _subject: str, _rows: list[dict[str, Any]]) -> None:
    raise OperationalError("INSERT INTO consent_state ...", {}, Exception("disk I/O error"))


@pytest.mark.parametrize("failure", ["statement", "commit"])
def test_a_database_error_fails_the_whole_batch_and_the_next_one_runs(
    any_ctx: Context, failure: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(any_ctx)
    seq = sequencer(any_ctx)
    failed = seq.failed_batches
    others: list[Callable[[], Any]] = [
        lambda: write(any_ctx, "ann", ("analytics", True)),
        lambda: write(
            any_ctx, "ben", ("ads", True), within=database_error if failure == "statement" else None
        ),
        lambda: write(any_ctx, "cid", ("newsletter", True)),
    ]
    if failure == "commit":
        real_commit = UnitOfWork.commit
        commits: list[int] = []

        def commit_once(uow: UnitOfWork) -> None:
            commits.append(1)
            if len(commits) == 2:  # the holder's batch commits; the one after it fails
                raise OperationalError("COMMIT", {}, Exception("disk I/O error"))
            real_commit(uow)

        monkeypatch.setattr(UnitOfWork, "commit", commit_once)
    base = head_seq(any_ctx) + 1  # the holder's event
    holder, *rest = held_batch(any_ctx, others)
    assert isinstance(holder, Recorded)
    assert all(isinstance(r, OperationalError) for r in rest), rest
    assert seq.failed_batches - failed == 1
    assert head_seq(any_ctx) == base
    assert [subject_of(any_ctx, who) for who in ("ann", "ben", "cid")] == [None] * 3
    monkeypatch.undo()
    # no leader left behind: the next writes run (from a fresh thread and from this one)
    (again,) = run_threads([lambda: write(any_ctx, "ann", ("analytics", True))])
    assert isinstance(again, Recorded) and again.events[0]["seq"] == base + 1
    assert write(any_ctx, "ben", ("ads", True)).events[0]["seq"] == base + 2
    assert not seq._leading and seq.queued == 0
    report = verify(any_ctx)
    assert report.ok, report.as_dict()


def test_a_withdrawal_acknowledged_in_a_batch_is_denied_by_the_gate_at_once(any_ctx: Context) -> None:
    seed(any_ctx)
    ann = write(any_ctx, "ann", ("analytics", True), ("ads", True)).subject_id
    assert queries.decide_one(any_ctx, ann, "analytics").allowed
    seq = sequencer(any_ctx)
    answers: dict[str, Any] = {}

    def withdraw(who: str, purpose: str) -> Callable[[], Recorded]:
        def run() -> Recorded:
            recorded = write(any_ctx, who, (purpose, False))
            # the moment the write returns (the 201), before anything else: the gate denies
            answers[f"{who}/{purpose}"] = queries.decide_one(any_ctx, recorded.subject_id, purpose)
            return recorded

        return run

    results = held_batch(
        any_ctx,
        [withdraw("ann", "analytics"), withdraw("ann", "ads"), lambda: write(any_ctx, "ben", ("ads", True))],
    )
    assert all(isinstance(r, Recorded) for r in results), results
    assert seq.largest_batch >= 3
    assert [results[1].events[0]["decision"], results[2].events[0]["decision"]] == ["withdrawn"] * 2
    for key in ("ann/analytics", "ann/ads"):
        assert (answers[key].allowed, answers[key].reason) == (False, "consent_withdrawn")


def test_a_failing_first_write_leaves_no_leader_behind(any_ctx: Context) -> None:
    seed(any_ctx)
    seq = sequencer(any_ctx)
    # the thread's first submit leads and fails inside its job
    (refused,) = run_threads([lambda: write(any_ctx, "ann", ("no-such-purpose", True))])
    assert isinstance(refused, UnknownReference)
    assert not seq._leading and seq.queued == 0

    # a leader whose own job fails while others wait behind it still hands over
    def fail(_session: Session, _subject: str, _rows: list[dict[str, Any]]) -> None:
        raise Conflict("the leader's own job is refused")

    holder, *rest = held_batch(
        any_ctx, [lambda n=n: write(any_ctx, f"p{n}", ("analytics", True)) for n in range(4)], lead=fail
    )
    assert isinstance(holder, Conflict)
    assert all(isinstance(r, Recorded) for r in rest), rest
    assert subject_of(any_ctx, "holder") is None
    assert not seq._leading and seq.queued == 0
    assert isinstance(write(any_ctx, "ann", ("analytics", True)), Recorded)


class Halt(BaseException):
    """Not an Exception: what an interrupt or a worker timeout raises in the middle of a batch."""


def test_an_interrupt_in_a_batch_fails_it_and_hands_over(any_ctx: Context) -> None:
    seed(any_ctx)
    seq = sequencer(any_ctx)

    def halt(_session: Session, _subject: str, _rows: list[dict[str, Any]]) -> None:
        raise Halt

    holder, ann, ben = held_batch(
        any_ctx,
        [
            lambda: write(any_ctx, "ann", ("analytics", True), within=halt),
            lambda: write(any_ctx, "ben", ("analytics", True)),
        ],
    )
    assert isinstance(holder, Recorded)
    assert isinstance(ann, Halt) and isinstance(ben, Halt)  # the batch's transaction was abandoned
    assert subject_of(any_ctx, "ann") is None and subject_of(any_ctx, "ben") is None
    assert not seq._leading and seq.queued == 0
    (again,) = run_threads([lambda: write(any_ctx, "ben", ("analytics", True))])
    assert isinstance(again, Recorded)


def test_a_job_cannot_submit_another(ctx: Context) -> None:
    seed(ctx)

    def nested(_session: Session, _subject: str, _rows: list[dict[str, Any]]) -> None:
        write(ctx, "inner", ("analytics", True))

    (refused,) = run_threads([lambda: write(ctx, "outer", ("analytics", True), within=nested)])
    assert isinstance(refused, RuntimeError) and "cannot submit another" in str(refused)
    assert subject_of(ctx, "outer") is None and subject_of(ctx, "inner") is None
    assert isinstance(write(ctx, "outer", ("analytics", True)), Recorded)
