"""Batched, resumable table walks for the key operations (``subjects.rotation``).

Rows are read in keyset order (never OFFSET), each batch in one short transaction, so a long
run never holds a lock for long and an interrupted run loses at most one uncommitted batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from consent_service.db import Database

Progress = Callable[[int, int], None]
# Another pass picks up rows that concurrent writers added behind the cursor; bounded so a
# process that keeps writing under an old version cannot keep a run going for ever.
MAX_PASSES = 5


Work = Callable[[Session, list[Any]], int]


def in_batches(
    db: Database,
    stmt: Any,
    params: dict[str, Any],
    cursor: str,
    size: int,
    work: Work,
    total: int,
    progress: Progress | None,
    done: int,
) -> int:
    """Keyset pagination on ``cursor``: each batch is read, handed to ``work`` and committed in
    one short transaction. Returns ``done`` plus the rows ``work`` handled."""
    after: Any = "" if cursor == "subject_id" else 0
    while True:
        with db.uow() as uow:
            rows = list(uow.session.execute(stmt, {**params, "after": after, "limit": size}).all())
            if not rows:
                return done
            done += work(uow.session, rows)
            uow.commit()
        after = getattr(rows[-1], cursor)
        if progress:
            progress(done, max(total, done))


def in_passes(
    db: Database,
    stmt: Any,
    params: dict[str, Any],
    cursor: str,
    size: int,
    work: Work,
    total: int,
    progress: Progress | None,
) -> int:
    """Batches until a pass finds nothing left (rows written behind the cursor get a new pass)."""
    done = 0
    for _ in range(MAX_PASSES):
        before = done
        done = in_batches(db, stmt, params, cursor, size, work, total, progress, done)
        if done == before:
            break
    return done


def rowcount(result: Any) -> int:
    """Rows an executemany UPDATE changed (both dialects report the sum)."""
    return int(result.rowcount)


def scalar(db: Database, stmt: Any, **params: Any) -> int:
    with db.uow(write=False) as uow:
        return int(uow.session.execute(stmt, params).scalar() or 0)
