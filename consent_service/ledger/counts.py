"""Consent counts (``consent_counts``): the ledger folded into cells as events are appended.

What is counted: every ``consent`` event on a *purpose* (decisions on single cookies are not
purpose consents and are left out), in the cell of its day, purpose, site, channel, method,
language and decision. ``linked`` and ``shredded`` events carry no decision and count nowhere;
a shredded subject's decisions stay counted, as its events stay in the ledger (a count holds
nothing that identifies anyone).

- The day is the calendar date, in the counts' time zone, of ``recorded_at_source`` when the
  event has one (an imported decision counts on the day it was given on the platform it came
  from), else of ``recorded_at``. The counts' time zone is recorded in the one row of
  ``consent_counts_state``: UTC as the migrations built the counts, then the controller's
  ``CONSENT_TIMEZONE`` as of the last ``rebuild``. Counting goes on in that recorded zone, never
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

How the counts follow the ledger: the state row records ``through_seq``, the last ledger seq
whose events are counted. The consent write path does not touch the counts (it costs the write
nothing); the events after ``through_seq`` are folded in afterwards, in runs of at most a batch
of seqs (``tail`` reads and folds them, ``apply`` adds them and moves ``through_seq``):
``ledger.stats.catch_up`` does it before every statistics read, and the service's background
thread every two seconds (``jobs``), so the tail a read folds is a few seconds of writes at most.

Guarantees:
- the counts are exactly the fold of the ledger's events up to ``through_seq``: ``tail`` reads
  events up to a seq not beyond the ledger head it read, and the ledger's seqs are committed in
  order (they are given out under the head's lock), so none of them can appear later;
- ``apply`` adds a run only if ``through_seq`` (and the zone) are still those the run was read
  after, with the state row locked (``FOR UPDATE``; on SQLite the writing transaction holds the
  database's write lock), and moves ``through_seq`` in the same transaction: two processes
  catching up at once never count a run twice, the one that loses reads again;
- ``apply`` writes one upsert row per distinct cell of the run, adding to what is there
  (``ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL, ``ON DUPLICATE KEY UPDATE`` on
  MariaDB/MySQL), in key order, so concurrent writers of the same cells never lose a count
  and cannot deadlock;
- ``rebuild`` derives the tables again from ``ledger_events`` alone, under the head lock, in
  one transaction, and sets ``through_seq`` to the head: readers see the old counts or the new,
  writers wait until it has committed, and a run read before it is not applied after it.
  Its memory is bounded by days, not by the ledger: it streams the ledger in one pass ordered
  by time and folds and writes one day at a time (a day's cells are final once its events are
  folded), holding a few days' events and at most ``WRITE_BATCH`` cells beyond them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from consent_service.db import UTCDateTime
from consent_service.ledger.models import (
    ConsentCount,
    ConsentCountsState,
    ConsentDaily,
    ConsentPurposeDaily,
    LedgerEvent,
    LedgerHead,
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


# What the fold reads of an event, in this order (``FoldRow``): the counted events only, the
# consent events on purposes (``COUNTED``), as the statements that read them select them.
FOLD_FIELDS = (
    "subject_id",
    "target_key",
    "decision",
    "channel",
    "method",
    "language",
    "actor_type",
    "actor_id",
    "recorded_at",
    "recorded_at_source",
)
FoldRow = Sequence[Any]  # FOLD_FIELDS' values, first in a row (more after them are ignored)
COUNTED = "kind = 'consent' AND target_type = 'purpose'"
_SUBJECT, _PURPOSE, _AT, _SOURCE = (
    FOLD_FIELDS.index(n) for n in ("subject_id", "target_key", "recorded_at", "recorded_at_source")
)


def count_day(recorded_at: dt.datetime, recorded_at_source: dt.datetime | None, tz: dt.tzinfo) -> dt.date:
    """The day an event counts on: its source time's date in ``tz`` if imported, else its own."""
    return (recorded_at_source or recorded_at).astimezone(tz).date()


def fold(
    rows: Iterable[FoldRow],
    seen: set[tuple[str, str, dt.date]],
    tally: Tally,
    tz: dt.tzinfo = dt.UTC,
) -> None:
    """Add ``rows`` (counted events in ``seq`` order) to ``tally``, on their days in ``tz``;
    ``seen`` holds the (subject, purpose, day) that already have a first event and is updated.
    The one place an event's cell is decided: the site is the banner's (``actor_type`` ``site``),
    else ``''``, and absent dimensions are ``''``."""
    days: dict[dt.datetime, dt.date] = {}  # the events of one write share their instant
    for row in rows:
        sid, key, decision, channel, method, language, actor_type, actor_id, at, source = row[:10]
        when = source or at
        day = days.get(when)
        if day is None:
            day = days[when] = when.astimezone(tz).date()
        cell = (
            key,
            day,
            actor_id if actor_type == "site" else "",
            channel or "",
            method or "",
            language or "",
            decision,
        )
        entry = tally.get(cell)
        if entry is None:
            entry = tally[cell] = [0, 0]
        entry[0] += 1
        mark = (sid, key, day)
        if mark not in seen:
            seen.add(mark)
            entry[1] += 1


# The subjects' events on purposes counted on the days in question, up to a seq (found through
# ``ix_ledger_events_subject_seq``); one fixed statement, compiled once. The purposes are picked
# in Python: with them in the statement as well, SQLite's planner takes the purpose index for
# many subjects and reads every event of those purposes.
_EARLIER = (
    text(
        "SELECT subject_id, target_key, recorded_at, recorded_at_source FROM ledger_events "
        f"WHERE subject_id IN :sids AND seq <= :before AND {COUNTED} "
        "AND coalesce(recorded_at_source, recorded_at) >= :lo "
        "AND coalesce(recorded_at_source, recorded_at) < :hi"
    )
    .bindparams(
        bindparam("sids", expanding=True),
        bindparam("lo", type_=UTCDateTime()),
        bindparam("hi", type_=UTCDateTime()),
    )
    .columns(
        subject_id=String(), target_key=String(), recorded_at=UTCDateTime(), recorded_at_source=UTCDateTime()
    )
)


_DATETIMES = {"recorded_at": UTCDateTime(), "recorded_at_source": UTCDateTime()}
_TYPES = {name: _DATETIMES.get(name, String()) for name in FOLD_FIELDS}
# The counted events of a run of seqs, as the fold reads them.
_TAIL = text(
    f"SELECT {', '.join(FOLD_FIELDS)} FROM ledger_events "
    f"WHERE seq > :through AND seq <= :upto AND {COUNTED} ORDER BY seq"
).columns(**_TYPES)

_STATE = text("SELECT through_seq, time_zone FROM consent_counts_state WHERE id = 1")
_STATE_FOR_UPDATE = text("SELECT through_seq, time_zone FROM consent_counts_state WHERE id = 1 FOR UPDATE")
_STATE_SKIP_LOCKED = text(
    "SELECT through_seq, time_zone FROM consent_counts_state WHERE id = 1 FOR UPDATE SKIP LOCKED"
)
_COUNTED_UP_TO = text("UPDATE consent_counts_state SET through_seq = :upto WHERE id = 1")
FOLD_BATCH = 5_000  # seqs per run of ``tail`` / ``apply``


def state(session: Session) -> tuple[int, str]:
    """(``through_seq``, time zone): the last seq whose events are counted, and the zone the
    counts' days are in (``consent_counts_state``)."""
    row = session.execute(_STATE).one()
    return int(row[0]), row[1]


def counts_zone(session: Session) -> str:
    """The time zone the counts' days are in."""
    return state(session)[1]


def head_seq(session: Session) -> int:
    """The ledger head's seq: every event up to it is committed."""
    return int(session.scalar(select(LedgerHead.seq).where(LedgerHead.id == 1)) or 0)


def _earlier_marks(
    session: Session, rows: list[FoldRow], before: int, tz: dt.tzinfo
) -> set[tuple[str, str, dt.date]]:
    """(subject, purpose, day) of events up to seq ``before`` on the days and purposes of ``rows``."""
    days = [count_day(r[_AT], r[_SOURCE], tz) for r in rows]
    lo = dt.datetime.combine(min(days), dt.time(), tz)  # the first day's local midnight
    hi = dt.datetime.combine(max(days) + dt.timedelta(days=1), dt.time(), tz)
    keys = {r[_PURPOSE] for r in rows}
    found = session.execute(
        _EARLIER, {"sids": sorted({r[_SUBJECT] for r in rows}), "before": before, "lo": lo, "hi": hi}
    )
    return {(sid, key, count_day(at, source, tz)) for sid, key, at, source in found if key in keys}


def tail(session: Session, through: int, upto: int, tz: dt.tzinfo) -> Tally:
    """The cells of the counted events with seqs after ``through`` up to ``upto`` (which the
    caller read as committed), with their first events judged against the events up to
    ``through``; nothing is written."""
    rows: list[FoldRow] = list(session.execute(_TAIL, {"through": through, "upto": upto}))
    tally: Tally = {}
    if rows:
        fold(rows, _earlier_marks(session, rows, through, tz), tally, tz)
    return tally


def held_state(session: Session, *, wait: bool) -> tuple[int, str] | None:
    """``state``, with the state row held for this transaction (PostgreSQL); None when
    ``wait`` is False and another transaction holds it (another process is counting a run)."""
    row = session.execute(_STATE_FOR_UPDATE if wait else _STATE_SKIP_LOCKED).first()
    return None if row is None else (int(row[0]), row[1])


def counted_up_to(session: Session, upto: int) -> None:
    """Move ``through_seq`` to ``upto`` (the caller holds the state row)."""
    session.execute(_COUNTED_UP_TO, {"upto": upto})


def apply(session: Session, tally: Tally, through: int, upto: int, time_zone: str) -> bool:
    """Add ``tally`` (``tail``'s run after ``through`` up to ``upto``, in ``time_zone``) and move
    ``through_seq`` to ``upto``, if the counts still stand where the run was read; False (and
    nothing written) if another writer moved them meanwhile. The caller commits."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    now = session.execute(_STATE if sqlite else _STATE_FOR_UPDATE).one()
    if (int(now[0]), now[1]) != (through, time_zone):
        return False
    upsert(session, tally)
    session.execute(_COUNTED_UP_TO, {"upto": upto})
    return True


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
    instant = func.coalesce(LedgerEvent.recorded_at_source, LedgerEvent.recorded_at)
    columns = [getattr(LedgerEvent, name) for name in FOLD_FIELDS]
    events = session.execute(
        select(*columns, LedgerEvent.seq)  # the seq last: a fold row with the seq after it
        .where(LedgerEvent.kind == "consent", LedgerEvent.target_type == "purpose")
        .order_by(instant, LedgerEvent.seq)
        .execution_options(yield_per=5000)
    )
    open_days: dict[dt.date, list[Any]] = {}
    latest: dt.date | None = None
    one_day = dt.timedelta(days=1)
    done = 0
    for event in events:
        day = count_day(event[_AT], event[_SOURCE], tz)
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


def _seq(event: FoldRow) -> int:
    return int(event[len(FOLD_FIELDS)])


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


def rebuild(
    session: Session, time_zone: str, head: int, progress: Callable[[int, int], None] | None = None
) -> int:
    """Replace the counts by the fold of the ledger, on days in ``time_zone`` (recorded as the
    counts' zone), a day at a time, so that memory holds a few days' events and at most
    ``WRITE_BATCH`` cells beyond them, and record them as counted through ``head`` (the caller
    holds the head lock, at ``head``, and commits); returns the number of cells of
    ``consent_counts``."""
    tz = zone(time_zone)
    # the state row first: a catch-up waiting to apply a run sees it moved and reads again
    session.execute(
        update(ConsentCountsState)
        .where(ConsentCountsState.id == 1)
        .values(time_zone=time_zone, through_seq=head)
    )
    for table in (ConsentCount, ConsentDaily, ConsentPurposeDaily):
        session.execute(delete(table))
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
