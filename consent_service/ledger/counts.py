"""Consent counts (``consent_counts``): the ledger folded into cells as events are appended.

What is counted: every ``consent`` event on a *purpose* (decisions on single cookies are not
purpose consents and are left out), in the cell of its day, purpose, site, channel, method,
language and decision. ``linked`` and ``shredded`` events carry no decision and count nowhere;
a shredded subject's decisions stay counted, as its events stay in the ledger (a count holds
nothing that identifies anyone).

- The day is the calendar date, in the counts' time zone, of ``recorded_at_source`` when the
  event has one (an imported decision counts on the day it was given on the platform it came
  from), else of ``recorded_at``. The counts' time zone is the one row of
  ``consent_counts_zone``: UTC as the migration built them, then the controller's
  ``CONSENT_TIMEZONE`` as of the last ``rebuild``. ``add`` counts in that recorded zone, never
  in a newly configured one, so that the counts' days are always one zone's (a subject's first
  event of a day stays one per day); the statistics say when it differs from the configured one.
- The site is the banner's site (``actor_type`` ``site``: ``actor_id``), ``''`` for other actors.
- ``consent_daily`` holds the same cells summed over channel and language, and
  ``consent_purpose_daily`` those summed over sites too (a sum of first events of one purpose
  and day stays a sound bound), written alongside; the statistics read them.
- ``first_events`` counts the events that are their subject's first decision on the purpose
  that day (lowest ``seq`` among the subject's events on the purpose counted on that day). Each
  subject has at most one such event per purpose and day, so the sum of ``first_events`` over
  any cells of one purpose and day never exceeds the distinct subjects behind them: the lower
  bound the statistics' minimum-subjects rule rests on (``ledger.stats``). A "subject" here is a
  subject id; a person with several linked subject ids may stand behind more than one.

Guarantees:
- ``add`` runs in the transaction that appends the events (``service.append``, under the ledger
  head's lock), so the counts and the ledger commit together or not at all; it writes one upsert
  row per distinct cell of the call, adding to what is there (``ON CONFLICT DO UPDATE`` on SQLite
  and PostgreSQL, ``ON DUPLICATE KEY UPDATE`` on MariaDB/MySQL), so two writers never lose a count;
- ``rebuild`` derives the tables again from ``ledger_events`` alone, under the head lock, in
  one transaction: readers see the old counts or the new, writers wait until it has committed.
  Its memory is bounded by days, not by the ledger: it streams the ledger in one pass ordered
  by time and folds and writes one day at a time (a day's cells are final once its events are
  folded), holding a few days' events and at most ``WRITE_BATCH`` cells beyond them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, bindparam, delete, func, insert, select, text
from sqlalchemy.orm import Session

from consent_service.db import UTCDateTime
from consent_service.ledger.models import (
    ConsentCount,
    ConsentCountsZone,
    ConsentDaily,
    ConsentPurposeDaily,
    LedgerEvent,
)

DIMENSIONS = ("purpose_key", "day", "site", "channel", "method", "language", "decision")
DAILY_DIMENSIONS = ("purpose_key", "day", "site", "decision", "method")  # consent_daily's key
PURPOSE_DAILY_DIMENSIONS = ("purpose_key", "day", "decision", "method")  # consent_purpose_daily's
Cell = tuple[str, dt.date, str, str, str, str, str]  # in the order of DIMENSIONS
Tally = dict[Cell, list[int]]  # cell -> [events, first_events]
DEFAULT_ZONE = "UTC"  # the zone of counts that no rebuild has recorded one for


@lru_cache(maxsize=16)
def zone(name: str) -> dt.tzinfo:
    """The time zone named (an IANA name, as ``CONSENT_TIMEZONE`` is checked to be)."""
    return dt.UTC if name == "UTC" else ZoneInfo(name)


def count_day(event: Mapping[str, Any], tz: dt.tzinfo = dt.UTC) -> dt.date:
    """The day an event counts on: its source time's date in ``tz`` if imported, else its own."""
    when: dt.datetime = event.get("recorded_at_source") or event["recorded_at"]
    return when.astimezone(tz).date()


def counted(event: Mapping[str, Any]) -> bool:
    return event.get("kind") == "consent" and event.get("target_type") == "purpose"


def cell_of(event: Mapping[str, Any], tz: dt.tzinfo = dt.UTC) -> Cell:
    return (
        event["target_key"],
        count_day(event, tz),
        event["actor_id"] if event.get("actor_type") == "site" else "",
        event.get("channel") or "",
        event.get("method") or "",
        event.get("language") or "",
        event["decision"],
    )


def fold(
    events: Iterable[Mapping[str, Any]],
    seen: set[tuple[str, str, dt.date]],
    tally: Tally,
    tz: dt.tzinfo = dt.UTC,
) -> None:
    """Add ``events`` (in ``seq`` order) to ``tally``, on their days in ``tz``; ``seen`` holds the
    (subject, purpose, day) that already have a first event and is updated."""
    for event in events:
        if not counted(event):
            continue
        cell = cell_of(event, tz)
        entry = tally.setdefault(cell, [0, 0])
        entry[0] += 1
        mark = (event["subject_id"], cell[0], cell[1])
        if mark not in seen:
            seen.add(mark)
            entry[1] += 1


# The subject's events on the purposes counted on the days in question, before this append
# (found through ``ix_ledger_events_subject_seq``); one fixed statement, compiled once.
_EARLIER = (
    text(
        "SELECT subject_id, target_key, recorded_at, recorded_at_source FROM ledger_events "
        "WHERE subject_id IN :sids AND seq <= :before AND kind = 'consent' AND target_type = 'purpose' "
        "AND target_key IN :keys AND coalesce(recorded_at_source, recorded_at) >= :lo "
        "AND coalesce(recorded_at_source, recorded_at) < :hi"
    )
    .bindparams(
        bindparam("sids", expanding=True),
        bindparam("keys", expanding=True),
        bindparam("lo", type_=UTCDateTime()),
        bindparam("hi", type_=UTCDateTime()),
    )
    .columns(
        subject_id=String(), target_key=String(), recorded_at=UTCDateTime(), recorded_at_source=UTCDateTime()
    )
)


_ZONE = text("SELECT time_zone FROM consent_counts_zone WHERE id = 1")


def counts_zone(session: Session) -> str:
    """The time zone the counts' days are in (``consent_counts_zone``)."""
    return session.execute(_ZONE).scalar() or DEFAULT_ZONE


def _earlier_marks(
    session: Session, rows: list[dict[str, Any]], before: int, tz: dt.tzinfo
) -> set[tuple[str, str, dt.date]]:
    """(subject, purpose, day) of events up to seq ``before`` on the days and purposes of ``rows``."""
    days = [count_day(r, tz) for r in rows]
    lo = dt.datetime.combine(min(days), dt.time(), tz)  # the first day's local midnight
    hi = dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time(), tz)
    found = session.execute(
        _EARLIER,
        {
            "sids": sorted({r["subject_id"] for r in rows}),
            "keys": sorted({r["target_key"] for r in rows}),
            "before": before,
            "lo": lo,
            "hi": hi,
        },
    )
    return {
        (sid, key, count_day({"recorded_at": at, "recorded_at_source": source}, tz))
        for sid, key, at, source in found
    }


def add(
    session: Session, rows: list[dict[str, Any]], before: int, new_subjects: Collection[str] = ()
) -> None:
    """Count the events ``rows`` just appended after seq ``before``; see the module docstring.
    Subjects in ``new_subjects`` were created in this transaction: they have no earlier events,
    so a banner's first visit costs no look-up."""
    rows = [r for r in rows if counted(r)]
    if not rows:
        return
    tz = zone(counts_zone(session))
    known = [r for r in rows if r["subject_id"] not in new_subjects]
    tally: Tally = {}
    fold(rows, _earlier_marks(session, known, before, tz) if known else set(), tally, tz)
    upsert(session, tally)


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert_statement(dialect: str, table: Any) -> Any:
    """INSERT into ``table`` that adds to an existing cell, built once per dialect and table."""
    if (dialect, table.name) not in _UPSERTS:
        from sqlalchemy.dialects import mysql, postgresql, sqlite

        stmt: Any
        if dialect in ("mysql", "mariadb"):
            stmt = mysql.insert(table)
            stmt = stmt.on_duplicate_key_update(
                events=table.c.events + stmt.inserted.events,
                first_events=table.c.first_events + stmt.inserted.first_events,
            )
        else:
            stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
            stmt = stmt.on_conflict_do_update(
                index_elements=[c.name for c in table.primary_key.columns],
                set_={
                    "events": table.c.events + stmt.excluded.events,
                    "first_events": table.c.first_events + stmt.excluded.first_events,
                },
            )
        _UPSERTS[dialect, table.name] = stmt
    return _UPSERTS[dialect, table.name]


def rollup(
    cells: Mapping[tuple[Any, ...], list[int]], names: tuple[str, ...], to: tuple[str, ...]
) -> dict[tuple[Any, ...], list[int]]:
    """``cells`` (keyed by the dimensions ``names``) summed into cells keyed by ``to``, a subset of
    them: ``consent_daily``'s from ``consent_counts``', ``consent_purpose_daily``'s from those."""
    pick = [names.index(name) for name in to]
    out: dict[tuple[Any, ...], list[int]] = {}
    for cell, (n, first) in cells.items():
        entry = out.setdefault(tuple(cell[i] for i in pick), [0, 0])
        entry[0] += n
        entry[1] += first
    return out


def _params(names: tuple[str, ...], tally: Mapping[tuple[Any, ...], list[int]]) -> list[dict[str, Any]]:
    return [
        {**dict(zip(names, cell, strict=True)), "events": n, "first_events": first}
        for cell, (n, first) in sorted(tally.items())
    ]


def upsert(session: Session, tally: Tally) -> None:
    """Add ``tally`` to the three tables, one row per cell, in key order (so that two writers
    touching the same cells lock them in the same order and cannot deadlock)."""
    if tally:
        dialect = session.get_bind().dialect.name
        rolled = rollup(tally, DIMENSIONS, DAILY_DIMENSIONS)
        per_purpose = rollup(rolled, DAILY_DIMENSIONS, PURPOSE_DAILY_DIMENSIONS)
        for table, names, cells in (
            (ConsentCount, DIMENSIONS, tally),
            (ConsentDaily, DAILY_DIMENSIONS, rolled),
            (ConsentPurposeDaily, PURPOSE_DAILY_DIMENSIONS, per_purpose),
        ):
            session.execute(_upsert_statement(dialect, table.__table__), _params(names, cells))


_EVENT_FIELDS = (
    "seq",
    "kind",
    "subject_id",
    "target_type",
    "target_key",
    "decision",
    "channel",
    "method",
    "language",
    "recorded_at",
    "recorded_at_source",
    "actor_type",
    "actor_id",
)


def _days(
    session: Session, tz: dt.tzinfo, progress: Callable[[int, int], None] | None
) -> Iterable[list[Any]]:
    """The ledger's counted events in one pass ordered by the instant they count at (streamed,
    not loaded), handed out a day (of ``tz``) at a time, each day's in ``seq`` order. A day's
    events are all there is to its first-event marks and its cells, so the fold of one day is
    final. The day of an instant can step back at most one day (a zone that turns its clock
    back over midnight), so a day is handed out once the pass is two days past it."""
    total = (
        session.scalar(
            select(func.count())
            .select_from(LedgerEvent)
            .where(LedgerEvent.kind == "consent", LedgerEvent.target_type == "purpose")
        )
        or 0
    )
    columns = [getattr(LedgerEvent, name) for name in _EVENT_FIELDS]
    instant = func.coalesce(LedgerEvent.recorded_at_source, LedgerEvent.recorded_at)
    events = session.execute(
        select(*columns)
        .where(LedgerEvent.kind == "consent", LedgerEvent.target_type == "purpose")
        .order_by(instant, LedgerEvent.seq)
        .execution_options(yield_per=5000)
    )
    open_days: dict[dt.date, list[Any]] = {}
    latest: dt.date | None = None
    one_day = dt.timedelta(days=1)
    done = 0
    for row in events:
        event: Any = row._mapping  # a view of the row, no copy
        day = count_day(event, tz)
        if day not in open_days:
            if latest is not None and day < latest - one_day:
                raise RuntimeError(f"the ledger's events came back to {day} after {latest}")
            open_days[day] = []
            if latest is None or day > latest:
                latest = day
                for past in sorted(d for d in open_days if d < day - one_day):
                    yield sorted(open_days.pop(past), key=_seq)
                    if progress is not None:
                        progress(done, total)
        open_days[day].append(event)
        done += 1
    for day in sorted(open_days):
        yield sorted(open_days.pop(day), key=_seq)
    if progress is not None:
        progress(total, total)


def _seq(event: Mapping[str, Any]) -> int:
    return int(event["seq"])


# The tables ``rebuild`` derives from ``consent_counts`` in SQL once it is complete.
_ROLLUPS = (
    "INSERT INTO consent_daily (purpose_key, day, site, decision, method, events, first_events) "
    "SELECT purpose_key, day, site, decision, method, sum(events), sum(first_events) "
    "FROM consent_counts GROUP BY purpose_key, day, site, decision, method",
    "INSERT INTO consent_purpose_daily (purpose_key, day, decision, method, events, first_events) "
    "SELECT purpose_key, day, decision, method, sum(events), sum(first_events) "
    "FROM consent_daily GROUP BY purpose_key, day, decision, method",
)


WRITE_BATCH = 10_000  # cells per statement when ``rebuild`` writes


def rebuild(session: Session, time_zone: str, progress: Callable[[int, int], None] | None = None) -> int:
    """Replace the counts by the fold of the ledger, on days in ``time_zone`` (recorded as the
    counts' zone), a day at a time, so that memory holds a few days' events and at most
    ``WRITE_BATCH`` cells beyond them (the caller holds the head lock and commits); returns the
    number of cells of ``consent_counts``."""
    tz = zone(time_zone)
    for table in (ConsentCount, ConsentDaily, ConsentPurposeDaily, ConsentCountsZone):
        session.execute(delete(table))
    session.execute(insert(ConsentCountsZone), {"id": 1, "time_zone": time_zone})
    held: Tally = {}
    for events in _days(session, tz, progress):
        fold(events, set(), held, tz)  # a day's cells are new: no other day has them
        if len(held) >= WRITE_BATCH:
            session.execute(insert(ConsentCount), _params(DIMENSIONS, held))
            held.clear()
    if held:
        session.execute(insert(ConsentCount), _params(DIMENSIONS, held))
    for statement in _ROLLUPS:
        session.execute(text(statement))
    return session.scalar(select(func.count()).select_from(ConsentCount)) or 0


def snapshot(
    session: Session, daily_table: bool = False, purpose_table: bool = False
) -> dict[Any, tuple[int, int]]:
    """A table as {cell: (events, first_events)}, for comparing with a fold: ``consent_counts``,
    ``consent_daily`` (keyed by ``DAILY_DIMENSIONS``) or ``consent_purpose_daily`` (keyed by
    ``PURPOSE_DAILY_DIMENSIONS``)."""
    model: Any = ConsentPurposeDaily if purpose_table else ConsentDaily if daily_table else ConsentCount
    table = model.__table__
    names = PURPOSE_DAILY_DIMENSIONS if purpose_table else DAILY_DIMENSIONS if daily_table else DIMENSIONS
    return {
        tuple(row[: len(names)]): (row[len(names)], row[len(names) + 1])
        for row in session.execute(
            select(*[table.c[name] for name in names], table.c.events, table.c.first_events)
        )
    }
