"""Consent counts (``consent_counts``): the ledger folded into cells as events are appended.

What is counted: every ``consent`` event on a *purpose* (decisions on single cookies are not
purpose consents and are left out), in the cell of its day, purpose, site, channel, method,
language and decision. ``linked`` and ``shredded`` events carry no decision and count nowhere;
a shredded subject's decisions stay counted, as its events stay in the ledger (a count holds
nothing that identifies anyone).

- The day is the UTC date of ``recorded_at_source`` when the event has one (an imported decision
  counts on the day it was given on the platform it came from), else of ``recorded_at``.
- The site is the banner's site (``actor_type`` ``site``: ``actor_id``), ``''`` for other actors.
- ``consent_daily`` holds the same cells summed over channel and language (a sum of first events
  of one purpose and day stays a sound bound), written alongside; the statistics read it.
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
- ``rebuild`` derives the whole table again from ``ledger_events`` alone, under the head lock, in
  one transaction: readers see the old counts or the new, writers wait until it has committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from sqlalchemy import String, bindparam, delete, func, insert, select, text
from sqlalchemy.orm import Session

from consent_service.db import UTCDateTime
from consent_service.ledger.models import ConsentCount, ConsentDaily, LedgerEvent
from consent_service.subjects.models import Subject

DIMENSIONS = ("purpose_key", "day", "site", "channel", "method", "language", "decision")
DAILY_DIMENSIONS = ("purpose_key", "day", "site", "decision", "method")  # consent_daily's key
Cell = tuple[str, dt.date, str, str, str, str, str]  # in the order of DIMENSIONS
Tally = dict[Cell, list[int]]  # cell -> [events, first_events]
SUBJECT_PAGE = 2000


def count_day(event: Mapping[str, Any]) -> dt.date:
    """The day an event counts on: its source time's UTC date if imported, else its own."""
    when: dt.datetime = event.get("recorded_at_source") or event["recorded_at"]
    return when.astimezone(dt.UTC).date()


def counted(event: Mapping[str, Any]) -> bool:
    return event.get("kind") == "consent" and event.get("target_type") == "purpose"


def cell_of(event: Mapping[str, Any]) -> Cell:
    return (
        event["target_key"],
        count_day(event),
        event["actor_id"] if event.get("actor_type") == "site" else "",
        event.get("channel") or "",
        event.get("method") or "",
        event.get("language") or "",
        event["decision"],
    )


def fold(events: Iterable[Mapping[str, Any]], seen: set[tuple[str, str, dt.date]], tally: Tally) -> None:
    """Add ``events`` (in ``seq`` order) to ``tally``; ``seen`` holds the (subject, purpose, day)
    that already have a first event and is updated."""
    for event in events:
        if not counted(event):
            continue
        cell = cell_of(event)
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
    .columns(subject_id=String(), target_key=String(), recorded_at=UTCDateTime(), recorded_at_source=UTCDateTime())
)


def _earlier_marks(session: Session, rows: list[dict[str, Any]], before: int) -> set[tuple[str, str, dt.date]]:
    """(subject, purpose, day) of events up to seq ``before`` on the days and purposes of ``rows``."""
    days = [count_day(r) for r in rows]
    lo = dt.datetime.combine(min(days), dt.time(), dt.UTC)
    hi = dt.datetime.combine(max(days), dt.time(), dt.UTC) + dt.timedelta(days=1)
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
        (sid, key, count_day({"recorded_at": at, "recorded_at_source": source}))
        for sid, key, at, source in found
    }


def add(session: Session, rows: list[dict[str, Any]], before: int, new_subjects: Collection[str] = ()) -> None:
    """Count the events ``rows`` just appended after seq ``before``; see the module docstring.
    Subjects in ``new_subjects`` were created in this transaction: they have no earlier events,
    so a banner's first visit costs no look-up."""
    rows = [r for r in rows if counted(r)]
    if not rows:
        return
    known = [r for r in rows if r["subject_id"] not in new_subjects]
    tally: Tally = {}
    fold(rows, _earlier_marks(session, known, before) if known else set(), tally)
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


def daily(tally: Tally) -> dict[tuple[Any, ...], list[int]]:
    """``tally`` summed over channel and language, keyed by ``DAILY_DIMENSIONS``."""
    out: dict[tuple[Any, ...], list[int]] = {}
    for (purpose, day, site, _channel, method, _language, decision), (n, first) in tally.items():
        entry = out.setdefault((purpose, day, site, decision, method), [0, 0])
        entry[0] += n
        entry[1] += first
    return out


def _params(names: tuple[str, ...], tally: Mapping[tuple[Any, ...], list[int]]) -> list[dict[str, Any]]:
    return [
        {**dict(zip(names, cell, strict=True)), "events": n, "first_events": first}
        for cell, (n, first) in sorted(tally.items())
    ]


def upsert(session: Session, tally: Tally) -> None:
    """Add ``tally`` to both tables, one row per cell, in key order (so that two writers touching
    the same cells lock them in the same order and cannot deadlock)."""
    if tally:
        dialect = session.get_bind().dialect.name
        session.execute(_upsert_statement(dialect, ConsentCount.__table__), _params(DIMENSIONS, tally))
        session.execute(_upsert_statement(dialect, ConsentDaily.__table__), _params(DAILY_DIMENSIONS, daily(tally)))


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


def tally_ledger(session: Session, progress: Callable[[int, int], None] | None = None) -> Tally:
    """The fold of the whole ledger, read a page of subjects at a time (a subject's events all
    lie in one page, so the first-event marks need only that page's memory)."""
    total = session.scalar(select(func.count()).select_from(Subject)) or 0
    columns = [getattr(LedgerEvent, name) for name in _EVENT_FIELDS]
    tally: Tally = {}
    done = 0
    after = ""
    while True:
        ids = list(
            session.scalars(select(Subject.id).where(Subject.id > after).order_by(Subject.id).limit(SUBJECT_PAGE))
        )
        if not ids:
            break
        events = session.execute(
            select(*columns)
            .where(
                LedgerEvent.subject_id > after,
                LedgerEvent.subject_id <= ids[-1],
                LedgerEvent.kind == "consent",
                LedgerEvent.target_type == "purpose",
            )
            .order_by(LedgerEvent.seq)
        )
        fold((row._asdict() for row in events), set(), tally)
        after = ids[-1]
        done += len(ids)
        if progress is not None:
            progress(done, total)
    return tally


def rebuild(session: Session, progress: Callable[[int, int], None] | None = None) -> int:
    """Replace the counts by the fold of the ledger (the caller holds the head lock); returns
    the number of cells written."""
    tally = tally_ledger(session, progress)
    session.execute(delete(ConsentCount))
    session.execute(delete(ConsentDaily))
    if tally:
        session.execute(insert(ConsentCount), _params(DIMENSIONS, tally))
        session.execute(insert(ConsentDaily), _params(DAILY_DIMENSIONS, daily(tally)))
    return len(tally)


def snapshot(session: Session, daily_table: bool = False) -> dict[Any, tuple[int, int]]:
    """A table as {cell: (events, first_events)}, for comparing with a fold: ``consent_counts``,
    or ``consent_daily`` (keyed by ``DAILY_DIMENSIONS``)."""
    table: Any = (ConsentDaily if daily_table else ConsentCount).__table__
    names = DAILY_DIMENSIONS if daily_table else DIMENSIONS
    return {
        tuple(row[: len(names)]): (row[len(names)], row[len(names) + 1])
        for row in session.execute(select(*[table.c[name] for name in names], table.c.events, table.c.first_events))
    }
