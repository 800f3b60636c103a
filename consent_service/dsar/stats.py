"""Statistics of data subject requests, read from ``dsar_requests`` when asked (requests are few).

Per request type, over the requests *received* from ``from`` to ``to`` (UTC days):

- ``received``; ``completed`` (state ``completed``; a refusal is not a completion);
- ``median_days`` / ``p95_days``: days from receipt to completion (``closed_at - received_at``,
  nearest-rank percentiles over the completed requests);
- ``within_deadline``: the share of completed requests closed by their due date (``due_at``,
  which includes a lawful extension, Art. 12(3));
- ``overdue_now``: requests still open whose due date has passed.

The minimum-subjects rule of ``ledger.stats`` applies with exact counts: a number is shown only
if it is 0, or the requests behind it come from at least ``min_subjects`` distinct subjects,
unless the caller may see everything. The completion figures are also held back when the
requests *not* completed are from fewer subjects (they would follow from ``received`` minus
``completed``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from sqlalchemy import select

from consent_service.context import Context
from consent_service.dsar.request_models import DsarRequest
from consent_service.dsar.requests import OPEN_STATES, TYPES
from consent_service.ledger.stats import check_range, csv_text, shown

COMPLETION_FIELDS = ("completed", "median_days", "p95_days", "within_deadline")


def nearest_rank(values: list[float], percent: int) -> float:
    """The smallest value with at least ``percent`` % of ``values`` at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent * len(ordered) / 100) - 1)]


def _completed(row: Any) -> bool:
    return bool(row.state == "completed" and row.closed_at is not None)


def request_stats(
    ctx: Context,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    unsuppressed: bool = False,
) -> dict[str, Any]:
    """The module's figures per request type (every type, also those without requests)."""
    now = ctx.now()
    start, end = check_range(now.date(), start, end)
    lo = dt.datetime.combine(start, dt.time(), dt.UTC)
    hi = dt.datetime.combine(end, dt.time(), dt.UTC) + dt.timedelta(days=1)
    r = DsarRequest
    with ctx.uow(write=False) as uow:
        rows = uow.session.execute(
            select(r.type, r.state, r.subject_id, r.received_at, r.due_at, r.closed_at).where(
                r.received_at >= lo, r.received_at < hi
            )
        ).all()
    min_subjects = ctx.config.stats_min_subjects
    types = []
    for kind in TYPES:
        mine = [row for row in rows if row.type == kind]
        done = [row for row in mine if _completed(row)]
        overdue = [row for row in mine if row.state in OPEN_STATES and row.due_at < now]
        subjects = {row.subject_id for row in mine}
        done_subjects = {row.subject_id for row in done}
        rest_subjects = {row.subject_id for row in mine if not _completed(row)}
        days = [(row.closed_at - row.received_at).total_seconds() / 86400 for row in done]
        figures: dict[str, Any] = {
            "received": len(mine),
            "completed": len(done),
            "median_days": round(nearest_rank(days, 50), 2) if days else None,
            "p95_days": round(nearest_rank(days, 95), 2) if days else None,
            "within_deadline": round(sum(row.closed_at <= row.due_at for row in done) / len(done), 4)
            if done
            else None,
            "overdue_now": len(overdue),
        }
        suppressed: list[str] = []
        checks = (
            (("received",), len(mine), len(subjects)),
            (COMPLETION_FIELDS, len(done), len(done_subjects)),
            (COMPLETION_FIELDS, len(mine) - len(done), len(rest_subjects)),
            (("overdue_now",), len(overdue), len({row.subject_id for row in overdue})),
        )
        for names, count, distinct in checks:
            if not shown(count, distinct, min_subjects, unsuppressed):
                suppressed += [name for name in names if name not in suppressed]
        figures.update(dict.fromkeys(suppressed))
        types.append({"type": kind, **figures, "suppressed": suppressed})
    return {
        "start": start,
        "end": end,
        "min_subjects": min_subjects,
        "unsuppressed": unsuppressed,
        "types": types,
    }


CSV_FIELDS = ("received", "completed", "median_days", "p95_days", "within_deadline", "overdue_now")


def request_csv(answer: dict[str, Any]) -> str:
    """``request_stats``' answer as CSV, one row per request type."""
    rows = [[t["type"], *(t[n] for n in CSV_FIELDS), " ".join(t["suppressed"])] for t in answer["types"]]
    return csv_text(["type", *CSV_FIELDS, "suppressed"], rows)
