"""The consent counts, brought up to date with the ledger (``stats.catch_up``) at any points and
in runs of any size, equal a fold of the ledger after any sequence of writes; a run is never
counted twice; a rebuild derives them again from the ledger alone."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from consent_service.context import Context
from consent_service.demo import DEMO_PURPOSES, seed
from consent_service.ledger import counts
from consent_service.ledger.models import ConsentCount, ConsentDaily
from consent_service.ledger.stats import catch_up, consent_stats, rebuild_counts
from consent_service.registry.service import save_purpose
from tests.conftest import make_context
from tests.fakes import FixedClock
from tests.integration.consent_writes import PURPOSES, fold_ledger, per_purpose, rollup, write

_keys = itertools.count()
people = st.integers(0, 5)
languages = st.sampled_from([None, "de", "en"])
operation = st.one_of(
    st.tuples(
        st.just("consent"),
        people,
        st.lists(
            st.tuples(st.sampled_from(PURPOSES), st.booleans()),
            min_size=1,
            max_size=3,
            unique_by=lambda c: c[0],
        ),
        st.sampled_from(["api", "custom"]),
        languages,
    ),
    st.tuples(
        st.just("banner"),
        people,
        st.sampled_from(["accept_all", "reject_all", "custom"]),
        st.booleans(),
        languages,
    ),
    st.tuples(
        st.just("import"),
        people,
        st.sampled_from(PURPOSES),
        st.sampled_from(["granted", "denied", "withdrawn"]),
        st.integers(0, 3),
        st.builds(lambda: f"k{next(_keys)}"),
    ),
    st.tuples(st.just("confirm"), people),
    st.tuples(st.just("erase"), people),
    st.tuples(st.just("advance"), st.integers(1, 30)),  # hours
    st.tuples(st.just("count"), st.integers(1, 8)),  # catch up, in runs of this many seqs
)


@pytest.fixture
def world(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Context, FixedClock, str]]:
    clock = FixedClock()
    context = make_context(sqlite_url, tmp_path, clock=clock)
    demo = seed(context)
    # newsletter grants by e-mail wait for their confirmation: pending, then granted
    save_purpose(context, "newsletter", {**DEMO_PURPOSES["newsletter"], "confirmation": "double_opt_in"})
    yield context, clock, demo["site"]["site_key"]
    context.db.dispose()


def run(world: tuple[Context, FixedClock, str], ops: list[tuple[Any, ...]]) -> None:
    ctx, clock, site_key = world
    for op in ops:
        if op[0] == "advance":
            clock.advance(hours=op[1])
        elif op[0] == "count":
            catch_up(ctx, batch=op[1])
        else:
            write(ctx, site_key, op)


def table(ctx: Context) -> dict[tuple[Any, ...], tuple[int, int]]:
    with ctx.uow(write=False) as uow:
        return counts.snapshot(uow.session)


def daily(ctx: Context) -> dict[tuple[Any, ...], tuple[int, int]]:
    with ctx.uow(write=False) as uow:
        return counts.snapshot(uow.session, daily_table=True)


def purpose_daily(ctx: Context) -> dict[tuple[Any, ...], tuple[int, int]]:
    with ctx.uow(write=False) as uow:
        return counts.snapshot(uow.session, purpose_table=True)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=12))
def test_the_counts_equal_a_fold_of_the_ledger_after_any_writes(world, ops) -> None:
    # the examples share one database: the ledger grows from one to the next, and so must the counts
    run(world, ops)
    ctx = world[0]
    catch_up(ctx, batch=5)
    folded = fold_ledger(ctx)
    assert table(ctx) == folded
    assert daily(ctx) == rollup(folded)
    assert purpose_daily(ctx) == per_purpose(rollup(folded))


def test_the_fold_is_not_trivially_equal(world) -> None:
    """Control: the writes produce counts, first events below events, and a damaged table shows."""
    ctx = world[0]
    run(
        world,
        [
            ("consent", 2, [("newsletter", True)], "api", "de"),  # a customer id: no confirmation
            ("consent", 2, [("newsletter", False)], "api", "de"),  # a withdrawal, same day: not first
            ("banner", 2, "accept_all", False, "en"),
            ("import", 3, "ads", "granted", 2, "x1"),
            ("consent", 5, [("newsletter", True)], "api", None),  # by e-mail: pending
            ("confirm", 5),
        ],
    )
    assert catch_up(ctx) > 0
    folded = fold_ledger(ctx)
    assert table(ctx) == folded
    decided = {cell[6] for cell in folded if cell[0] == "newsletter"}
    assert decided == {"granted", "withdrawn", "pending"}
    withdrawn = [cell for cell in folded if cell[0] == "newsletter" and cell[6] == "withdrawn"]
    assert [folded[c] for c in withdrawn] == [(1, 0)]
    imported = [cell for cell in folded if cell[3] == "import"]
    assert [cell[1] for cell in imported] == [
        (ctx.now() - __import__("datetime").timedelta(days=2, hours=3)).date()
    ]
    with ctx.uow() as uow:
        uow.session.execute(update(ConsentCount).values(events=ConsentCount.events + 1))
        uow.commit()
    assert table(ctx) != folded


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=st.lists(operation, min_size=1, max_size=12))
def test_a_rebuild_after_damage_gives_the_fold_again(world, ops) -> None:
    ctx = world[0]
    run(world, ops)
    expected = fold_ledger(ctx)
    with ctx.uow() as uow:
        uow.session.execute(update(ConsentCount).values(first_events=0, events=7))
        uow.session.execute(delete(ConsentCount).where(ConsentCount.decision == "granted"))
        uow.session.execute(delete(ConsentDaily))
        uow.commit()
    seen: list[tuple[int, int]] = []
    held = counts.WRITE_BATCH
    counts.WRITE_BATCH = 2  # the cells written a few at a time as days are folded
    try:
        cells = rebuild_counts(ctx, lambda done, total: seen.append((done, total)))["cells"]
    finally:
        counts.WRITE_BATCH = held
    assert table(ctx) == expected
    assert daily(ctx) == rollup(expected)
    assert purpose_daily(ctx) == per_purpose(rollup(expected))
    assert cells == len(expected)
    assert seen and seen[-1][0] == seen[-1][1]
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def berlin(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[Context, FixedClock, str]]:
    """A controller in Berlin (``CONSENT_TIMEZONE``) whose counts were built on UTC days, as a
    database migrated before the zone was set; the clock half an hour before midnight UTC."""
    clock = FixedClock(dt.datetime(2026, 1, 31, 23, 30, tzinfo=dt.UTC))
    context = make_context(sqlite_url, tmp_path, clock=clock, timezone="Europe/Berlin")
    demo = seed(context)
    yield context, clock, demo["site"]["site_key"]
    context.db.dispose()


def test_counts_stay_on_their_zone_until_a_rebuild_moves_them_to_the_configured_one(berlin) -> None:
    ctx, clock, site_key = berlin
    late = ("banner", 1, "accept_all", False, "de")  # no GPC; 23:30 UTC: 00:30 the next day in Berlin
    write(ctx, site_key, late)
    catch_up(ctx)
    assert table(ctx) == fold_ledger(ctx) != fold_ledger(ctx, BERLIN)  # UTC days, as recorded
    answer = consent_stats(ctx, start=dt.date(2026, 1, 31), end=dt.date(2026, 2, 1), unsuppressed=True)
    assert (answer["time_zone"], answer["configured_time_zone"]) == ("UTC", "Europe/Berlin")
    grants = answer["buckets"][0]["grants"]
    assert grants > 0 and answer["buckets"][1]["grants"] == 0

    done = rebuild_counts(ctx)
    assert (done["time_zone_before"], done["time_zone"]) == ("UTC", "Europe/Berlin")
    assert table(ctx) == fold_ledger(ctx, BERLIN)
    answer = consent_stats(ctx, start=dt.date(2026, 1, 31), end=dt.date(2026, 2, 1), unsuppressed=True)
    assert answer["time_zone"] == answer["configured_time_zone"] == "Europe/Berlin"
    assert [b["grants"] for b in answer["buckets"]] == [0, grants]

    # appends now count on Berlin days: 22:45 UTC is still 1 February there, 23:15 is the 2nd;
    # the same subject's second visit of one Berlin day is not a first event again
    for minutes in (22 * 60 + 45, 23 * 60 + 15, 23 * 60 + 20):
        clock.now = dt.datetime(2026, 2, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=minutes)
        write(ctx, site_key, ("banner", 1, "reject_all", False, "de"))
    catch_up(ctx)
    assert table(ctx) == fold_ledger(ctx, BERLIN)
    assert daily(ctx) == rollup(fold_ledger(ctx, BERLIN))


def test_a_write_leaves_the_counts_alone_until_they_catch_up(world) -> None:
    ctx, _, site_key = world
    catch_up(ctx)
    before = table(ctx)
    write(ctx, site_key, ("banner", 1, "accept_all", False, "de"))
    assert table(ctx) == before != fold_ledger(ctx)  # the write path did not count
    with ctx.uow(write=False) as uow:
        through, _ = counts.state(uow.session)
        head = counts.head_seq(uow.session)
    assert through < head
    assert catch_up(ctx, batch=2) == head - through
    assert table(ctx) == fold_ledger(ctx)
    assert catch_up(ctx) == 0  # nothing new: nothing counted again


def test_a_run_read_before_another_catch_up_or_a_rebuild_is_not_applied(world) -> None:
    ctx, _, site_key = world
    catch_up(ctx)
    write(ctx, site_key, ("banner", 2, "reject_all", False, "en"))
    with ctx.uow(write=False) as uow:
        through, time_zone = counts.state(uow.session)
        upto = counts.head_seq(uow.session)
        run_ = counts.tail(uow.session, through, upto, counts.zone(time_zone))
    assert run_  # the banner's decisions
    catch_up(ctx)  # another process counts the same seqs first
    counted = table(ctx)
    assert counted == fold_ledger(ctx)
    with ctx.uow() as uow:
        assert counts.apply(uow.session, run_, through, upto, time_zone) is False
        uow.commit()
    assert table(ctx) == counted

    write(ctx, site_key, ("banner", 3, "accept_all", False, "de"))
    with ctx.uow(write=False) as uow:
        through, time_zone = counts.state(uow.session)
        upto = counts.head_seq(uow.session)
        run_ = counts.tail(uow.session, through, upto, counts.zone(time_zone))
    rebuild_counts(ctx)  # counts every event up to the head itself
    with ctx.uow() as uow:
        assert counts.apply(uow.session, run_, through, upto, time_zone) is False
        uow.commit()
    assert table(ctx) == fold_ledger(ctx)
    with ctx.uow(write=False) as uow:
        assert counts.state(uow.session)[0] == counts.head_seq(uow.session)


def test_the_ledger_thread_brings_the_counts_up_to_date_without_a_read(world) -> None:
    """The serving process's ledger thread (``ledger_thread.start_checkpointer``) counts new events on its
    own within a round."""
    from consent_service.ledger_thread import start_checkpointer

    ctx, _, site_key = world
    write(ctx, site_key, ("banner", 4, "accept_all", False, "de"))
    stop = start_checkpointer(ctx, every=0.1)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with ctx.uow(write=False) as uow:
                if counts.state(uow.session)[0] == counts.head_seq(uow.session):
                    break
            time.sleep(0.05)
    finally:
        stop.set()
    assert table(ctx) == fold_ledger(ctx)
    with ctx.uow(write=False) as uow:
        assert counts.state(uow.session)[0] == counts.head_seq(uow.session)


@pytest.mark.postgres
def test_the_ledger_thread_leaves_a_run_to_the_process_counting_it(pg_ctx) -> None:
    """With the counts' state row held by another process's run, ``wait=False`` returns at once
    and counts nothing; afterwards it counts each seq once."""
    import threading

    from sqlalchemy import text

    ctx = pg_ctx
    site_key = str(seed(ctx)["site"]["site_key"])
    write(ctx, site_key, ("banner", 1, "accept_all", False, "de"))
    holder = ctx.db.engine.connect()
    try:
        holder.execute(text("SELECT through_seq FROM consent_counts_state WHERE id = 1 FOR UPDATE"))
        counted: list[int] = []
        skipping = threading.Thread(target=lambda: counted.append(catch_up(ctx, wait=False)), daemon=True)
        skipping.start()
        skipping.join(timeout=10)
        assert counted == [0], "it waited for the holder instead of leaving the run to it"
    finally:
        holder.rollback()
        holder.close()
    with ctx.uow(write=False) as uow:
        through, _ = counts.state(uow.session)
        head = counts.head_seq(uow.session)
    assert catch_up(ctx, wait=False) == head - through > 0
    assert table(ctx) == fold_ledger(ctx)
    assert catch_up(ctx) == 0
