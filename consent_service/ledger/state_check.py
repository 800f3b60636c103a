"""Checking the projection against the ledger: ``consent_state`` must equal the fold of the events.

The fold is the latest ``consent`` event per (subject, target), the same rule ``projection.rebuild``
and the live upsert apply. Two set-based statements find every row that differs: projection rows
that are absent from the fold or differ from it in any column, and fold rows the projection lacks.
Only the differing rows come back, so the check scales with the ledger in the database, not in
Python. Read-only.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from consent_service.ledger.models import ConsentState
from consent_service.ledger.projection import STATE_COLUMNS, latest_consent_events

KEY = ("subject_id", "target_type", "target_key")
VALUES = tuple(c for c in STATE_COLUMNS if c not in KEY)


def _mismatch(row: Any, problem: str) -> dict[str, Any]:
    return {
        "subject_id": row.subject_id,
        "target_type": row.target_type,
        "target_key": row.target_key,
        "problem": problem,
    }


def projection_mismatches(session: Session) -> list[dict[str, Any]]:
    """Every ``consent_state`` row that is not the fold of the events, and every one missing.

    Each item names the row (subject, target) and the problem: ``"<columns> differ(s)"``,
    ``"not backed by any event"`` or ``"missing from the projection"``.
    """
    fold = latest_consent_events()
    cs = ConsentState.__table__
    on = and_(*[cs.c[k] == fold.c[k] for k in KEY])
    out = []
    differing = session.execute(
        select(*[cs.c[c] for c in STATE_COLUMNS], *[fold.c[c].label(f"f_{c}") for c in STATE_COLUMNS])
        .select_from(cs.outerjoin(fold, on))
        .where(or_(fold.c.subject_id.is_(None), *[cs.c[c].is_distinct_from(fold.c[c]) for c in VALUES]))
    )
    for row in differing:
        if row.f_subject_id is None:
            out.append(_mismatch(row, "not backed by any event"))
            continue
        columns = [c for c in VALUES if getattr(row, c) != getattr(row, f"f_{c}")]
        # The database saw a difference Python does not (e.g. a timestamp's text form on SQLite).
        columns = columns or ["stored form"]
        out.append(_mismatch(row, f"{', '.join(columns)} {'differs' if len(columns) == 1 else 'differ'}"))
    missing = session.execute(
        select(*[fold.c[k] for k in KEY]).select_from(fold.outerjoin(cs, on)).where(cs.c.subject_id.is_(None))
    )
    out.extend(_mismatch(row, "missing from the projection") for row in missing)
    return sorted(out, key=lambda m: (m["subject_id"], m["target_type"], m["target_key"]))
