"""Consent statistics read from the consent counts (never from the ledger), the counts' catch-up
with the ledger and their rebuild.

Definitions (per bucket of the interval, over the purpose and site asked for, or all of them):

- ``grants``: events with decision ``granted`` (a double opt-in counts when it is confirmed,
  on the confirmation's day); ``pending``: grants still waiting for their confirmation;
- ``denials``: decision ``denied``, a "no" from a subject that had not granted the purpose;
- ``withdrawals``: decision ``withdrawn``, a "no" from a subject whose linked group had granted
  the purpose before (``service.record_consent`` decides it from the projection; an import
  carries the source platform's word);
- ``opt_in_rate``: grants / (grants + denials + withdrawals), ``None`` without decisions;
- ``methods``: each method's share of those decisions (``other`` for any method not listed).

The minimum-subjects rule (``min_subjects``, ``CONSENT_STATS_MIN_SUBJECTS``, default 10): a
number is shown only if it is 0 or it certainly stands for at least ``min_subjects`` distinct
subjects, unless the caller may see everything (``unsuppressed``: the ``dpo`` right). The lower
bound of a cell's subjects is the largest, over the purposes and days in it, of the sum of
``first_events`` (``ledger.counts``): sound for one day and purpose, and for any union of them
because a union has at least as many subjects as each part. The rate is shown only if the three
counts it is made of are; the method shares only if every method with decisions could be shown
(else the missing share would follow from the others). A suppressed number is ``None`` and its
name is listed in the bucket's ``suppressed``.

The site filter takes a registered site's id, or ``NO_SITE`` for the decisions made not
through a banner (API clients, imports, forms), which the counts keep under the site ``''``
(named ``NO_SITE_PARAM`` in a query).

How it is read: without a site, from ``consent_purpose_daily`` (no site in the key), with one,
from ``consent_daily``. The database sums each (day, purpose, number) and gives per day and
number the sum over purposes and the largest of those sums (the bound); Python only adds the
days of a bucket and takes the largest bound, so the work in Python is days x numbers whatever
the sites, methods and purposes. The days are those of the counts' time zone
(``ledger.counts``); the answer names it (``time_zone``) and the configured one
(``configured_time_zone``): when they differ, ``consent-service stats rebuild`` moves the counts
to the configured zone.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, literal_column, select, union_all

from consent_service.context import Context
from consent_service.errors import InvalidInput
from consent_service.ledger import counts
from consent_service.ledger.models import ConsentDaily, ConsentPurposeDaily
from consent_service.ledger.service import lock_head
from consent_service.registry.models import Purpose, Site

INTERVALS = ("day", "week", "month")
NO_SITE = ""  # the counts' site of decisions not made through a banner (``counts``)
NO_SITE_PARAM = "none"  # its name in the API's and the console's site filter (no site id is)
WHOLE_RANGE = "range"  # one bucket for the whole range: the console's shares per site
METHOD_SHARES = ("accept_all", "reject_all", "custom", "gpc", "api", "other")
DECISION_FIELDS = {"granted": "grants", "denied": "denials", "withdrawn": "withdrawals", "pending": "pending"}
MAX_DAYS = 3700  # about ten years of days in one answer
DEFAULT_DAYS = 30
EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(9000, 12, 31)  # days a range may name


def rebuild_counts(ctx: Context, progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Derive the consent counts again from the ledger alone, on days in the configured time
    zone, with writers held off by the head lock until the new counts are committed; returns
    the number of cells and the zone the counts were in before and are in now."""
    with ctx.uow() as uow:
        head = lock_head(uow.session)[0]
        before = counts.counts_zone(uow.session)
        cells = counts.rebuild(uow.session, ctx.config.timezone, head, progress)
        uow.commit()
    return {"cells": cells, "time_zone_before": before, "time_zone": ctx.config.timezone}


def catch_up(ctx: Context, batch: int = counts.FOLD_BATCH, *, wait: bool = True) -> int:
    """Count the ledger's events written since the counts were last brought up to date, in runs
    of at most ``batch`` seqs; returns how many seqs this call counted. Every statistics read
    calls it first (and waits for a run another process is counting), the service's ledger
    thread after writes and every two seconds with ``wait=False``: a run another process is
    counting right now is left to it.

    On SQLite, where any writing transaction holds off every writer, a run is read in one
    transaction and applied in a short writing one (``ledger.counts``: a run another process
    applied first is read again, never counted twice). On PostgreSQL a run is one
    transaction holding the counts' state row from the start (no consent write touches it), so
    no two processes fold the same run."""
    done = 0
    while True:
        if ctx.db.is_sqlite:
            with ctx.uow(write=False) as uow:
                through, time_zone = counts.state(uow.session)
                head = counts.head_seq(uow.session)
                if head <= through:
                    return done
                upto = min(head, through + batch)
                tally = counts.tail(uow.session, through, upto, counts.zone(time_zone))
            with ctx.uow() as uow:
                if not counts.apply(uow.session, tally, through, upto, time_zone):
                    if not wait:
                        return done
                    continue
                uow.commit()
        else:
            with ctx.uow() as uow:
                session = uow.session
                held = counts.held_state(session, wait=wait)
                if held is None:
                    return done
                through, time_zone = held
                head = counts.head_seq(session)
                if head <= through:
                    return done
                upto = min(head, through + batch)
                counts.upsert(session, counts.tail(session, through, upto, counts.zone(time_zone)))
                counts.counted_up_to(session, upto)
                uow.commit()
        done += upto - through


def counts_time_zone(ctx: Context) -> str:
    """The time zone whose days the consent counts are in."""
    with ctx.uow(write=False) as uow:
        return counts.counts_zone(uow.session)


def shown(count: int, bound: int, min_subjects: int, unsuppressed: bool) -> bool:
    """May ``count`` (whose cell certainly holds ``bound`` distinct subjects) be shown?"""
    return unsuppressed or count == 0 or bound >= min_subjects


def period_start(day: dt.date, interval: str) -> dt.date:
    if interval == WHOLE_RANGE:
        return EARLIEST  # cut to the range's start by the caller
    if interval == "week":
        return day - dt.timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def buckets(start: dt.date, end: dt.date, interval: str) -> list[tuple[dt.date, dt.date]]:
    """The interval's periods from ``start`` to ``end``, each cut to that range (ISO weeks
    begin on Monday, months on the 1st)."""
    if interval == WHOLE_RANGE:
        return [(start, end)]
    out = []
    begin = start
    while begin <= end:
        if interval == "day":
            nxt = begin + dt.timedelta(days=1)
        elif interval == "week":
            nxt = period_start(begin, "week") + dt.timedelta(days=7)
        else:
            nxt = (begin.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        out.append((begin, min(nxt - dt.timedelta(days=1), end)))
        begin = nxt
    return out


def check_range(today: dt.date, start: dt.date | None, end: dt.date | None) -> tuple[dt.date, dt.date]:
    """The range asked for (default: the last ``DEFAULT_DAYS`` days up to ``today``)."""
    for name, day in (("from", start), ("to", end)):
        if day is not None and not EARLIEST <= day <= LATEST:
            raise InvalidInput(
                f"'{name}' is out of range", errors={name: [f"a day from {EARLIEST} to {LATEST}"]}
            )
    end = end or today
    start = start or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise InvalidInput(
            "'from' is after 'to'", errors={"from": [f"must be on or before {end.isoformat()}"]}
        )
    if (end - start).days + 1 > MAX_DAYS:
        raise InvalidInput(
            "the range is too long", errors={"from": [f"ask for at most {MAX_DAYS} days at a time"]}
        )
    return start, end


def site_asked(name: str | None) -> str | None:
    """A query's site (a site's id, ``NO_SITE_PARAM``, or empty for every site) as
    ``consent_stats``' ``site``."""
    return NO_SITE if name == NO_SITE_PARAM else name or None


def consent_stats(
    ctx: Context,
    *,
    purpose: str | None = None,
    site: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    interval: str = "day",
    unsuppressed: bool = False,
) -> dict[str, Any]:
    """Grants, denials, withdrawals, pending, opt-in rate and method shares per bucket; see the
    module docstring. Raises ``InvalidInput`` for a bad range, interval, purpose or site."""
    if interval not in (*INTERVALS, WHOLE_RANGE):
        raise InvalidInput("unknown interval", errors={"interval": [f"one of {', '.join(INTERVALS)}"]})
    start, end = check_range(ctx.now().astimezone(counts.zone(ctx.config.timezone)).date(), start, end)
    catch_up(ctx)
    with ctx.uow(write=False) as uow:
        session = uow.session
        errors = {}
        if purpose is not None and session.get(Purpose, purpose) is None:
            errors["purpose"] = [f"unknown purpose {purpose!r}"]
        if site is not None and site != NO_SITE and session.get(Site, site) is None:
            errors["site"] = [f"unknown site {site!r}"]
        if errors:
            raise InvalidInput("the statistics name unknown things", errors=errors)
        rows = session.connection().execute(per_day(purpose, site, start, end)).all()  # plain rows
        zone = counts.counts_zone(session)
    min_subjects = ctx.config.stats_min_subjects
    periods = buckets(start, end, interval)
    sums, bounds = bucket_sums(rows, periods, interval)
    return {
        "purpose": purpose,
        "site": site,
        "start": start,
        "end": end,
        "interval": interval,
        "min_subjects": min_subjects,
        "unsuppressed": unsuppressed,
        "time_zone": zone,
        "configured_time_zone": ctx.config.timezone,
        "buckets": [
            _bucket(period, sums[i], bounds[i], min_subjects, unsuppressed)
            for i, period in enumerate(periods)
        ],
    }


# A decision's method as one of METHOD_SHARES; inline SQL of constants, so that the GROUP BY
# repeats the very expression the SELECT has (bound parameters would differ between the two).
_SHARE: Any = literal_column(
    "CASE WHEN method IN ({}) THEN method ELSE 'other' END".format(", ".join(f"'{m}'" for m in METHOD_SHARES))
)


def per_day(purpose: str | None, site: str | None, start: dt.date, end: dt.date) -> Any:
    """Rows (day, is_method, name, events, bound): per day of the range and number (a decision
    of ``DECISION_FIELDS`` or, with is_method 1, a method share of the decided events), the
    events summed over the purposes and the largest sum of first events of one purpose."""
    table: Any = ConsentPurposeDaily.__table__ if site is None else ConsentDaily.__table__
    c = table.c
    where = [c.day >= start, c.day <= end]
    if purpose is not None:
        where.append(c.purpose_key == purpose)
    if site is not None:
        where.append(c.site == site)
    decisions = (
        select(
            c.day, c.purpose_key, literal_column("0").label("is_method"), c.decision.label("name"), *_sums(c)
        )
        .where(*where, c.decision.in_(list(DECISION_FIELDS)))
        .group_by(c.day, c.purpose_key, c.decision)
    )
    methods = (
        select(c.day, c.purpose_key, literal_column("1").label("is_method"), _SHARE.label("name"), *_sums(c))
        .where(*where, c.decision.in_([d for d in DECISION_FIELDS if d != "pending"]))
        .group_by(c.day, c.purpose_key, _SHARE)
    )
    per_purpose = union_all(decisions, methods).subquery()
    p = per_purpose.c
    return select(p.day, p.is_method, p.name, func.sum(p.events), func.max(p.firsts)).group_by(
        p.day, p.is_method, p.name
    )


def _sums(c: Any) -> list[Any]:
    return [func.sum(c.events).label("events"), func.sum(c.first_events).label("firsts")]


def bucket_sums(
    rows: Iterable[tuple[dt.date, int, str, int, int]], periods: list[tuple[dt.date, dt.date]], interval: str
) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    """``per_day``'s rows added up per period: each number's events summed, and its bound the
    largest of the days' (the largest sum of first events of one purpose and day in the period,
    a sound lower bound of the distinct subjects behind the number)."""
    index = {p[0]: i for i, p in enumerate(periods)}
    first = periods[0][0]
    sums: list[dict[str, int]] = [defaultdict(int) for _ in periods]
    bounds: list[dict[str, int]] = [defaultdict(int) for _ in periods]
    for day, is_method, name, events, bound in rows:
        i = index[max(period_start(day, interval), first)]
        key = "method:" + name if is_method else DECISION_FIELDS[name]
        sums[i][key] += int(events)
        if bound > bounds[i][key]:
            bounds[i][key] = int(bound)
    return sums, bounds


def _bucket(
    period: tuple[dt.date, dt.date],
    sums: dict[str, int],
    bounds: dict[str, int],
    min_subjects: int,
    unsuppressed: bool,
) -> dict[str, Any]:
    def bound(name: str) -> int:
        return bounds.get(name, 0)

    out: dict[str, Any] = {"start": period[0], "end": period[1]}
    suppressed = []
    for name in DECISION_FIELDS.values():
        if shown(sums[name], bound(name), min_subjects, unsuppressed):
            out[name] = sums[name]
        else:
            out[name] = None
            suppressed.append(name)
    decided = sums["grants"] + sums["denials"] + sums["withdrawals"]
    parts_shown = all(out[name] is not None for name in ("grants", "denials", "withdrawals"))
    if not parts_shown:
        out["opt_in_rate"] = None
        suppressed.append("opt_in_rate")
    else:
        out["opt_in_rate"] = round(sums["grants"] / decided, 4) if decided else None
    methods_shown = parts_shown and all(
        shown(sums["method:" + m], bound("method:" + m), min_subjects, unsuppressed) for m in METHOD_SHARES
    )
    if methods_shown:
        out["methods"] = {
            m: round(sums["method:" + m] / decided, 4) if decided else None for m in METHOD_SHARES
        }
    else:
        out["methods"] = dict.fromkeys(METHOD_SHARES)
        suppressed.append("methods")
    out["suppressed"] = suppressed
    return out


def csv_text(header: list[str], rows: list[list[Any]]) -> str:
    """The statistics' CSV (the API's and the console's downloads): a header row, CRLF, an
    empty cell for a suppressed number."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(["" if value is None else value for value in row] for row in rows)
    return out.getvalue()


def consent_csv(answer: dict[str, Any]) -> str:
    """``consent_stats``' answer as CSV, one row per bucket."""
    shares = [f"share_{m}" for m in METHOD_SHARES]
    header = [
        "start",
        "end",
        "grants",
        "denials",
        "withdrawals",
        "pending",
        "opt_in_rate",
        *shares,
        "suppressed",
    ]
    rows = [
        [b["start"].isoformat(), b["end"].isoformat()]
        + [b[name] for name in ("grants", "denials", "withdrawals", "pending", "opt_in_rate")]
        + [b["methods"][m] for m in METHOD_SHARES]
        + [" ".join(b["suppressed"])]
        for b in answer["buckets"]
    ]
    return csv_text(header, rows)
