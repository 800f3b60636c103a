"""The current-state projection (``consent_state``) and its rebuild from the ledger alone.

Live writes upsert the projection in the same transaction as the events. ``rebuild`` derives
it again with one set-based statement (latest consent event per subject and target) and
replays ``linked`` events for the subject groups, so it scales to millions of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from consent_service.ledger.models import ConsentState, LedgerEvent
from consent_service.subjects.models import Subject

STATE_COLUMNS = (
    "subject_id",
    "target_type",
    "target_key",
    "event_id",
    "seq",
    "decision",
    "purpose_version",
    "purpose_hash",
    "recorded_at",
    "valid_until",
)


def state_row(event: Mapping[str, Any]) -> dict[str, Any]:
    row = {name: event[name] for name in STATE_COLUMNS if name != "event_id"}
    row["event_id"] = event["id"]
    return row


# SQL join condition: the ledger event ``e`` a projection row ``cs`` cites, found by primary key,
# and only if it really is that row's consent event. Readers take decision, purpose hash and
# validity from the event (which the chain protects), never from the row alone.
BACKED_BY = (
    "e.seq = cs.seq AND e.id = cs.event_id AND e.subject_id = cs.subject_id AND e.kind = 'consent' "
    "AND e.target_type = cs.target_type AND e.target_key = cs.target_key"
)

_UPSERTS: dict[str, Any] = {}


def _upsert_statement(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE guarded by seq, built once per dialect."""
    if dialect not in _UPSERTS:
        from sqlalchemy.dialects import postgresql, sqlite

        dialect_insert: Any
        if dialect == "postgresql":
            dialect_insert = postgresql.insert
        elif dialect == "sqlite":
            dialect_insert = sqlite.insert
        else:  # pragma: no cover - the ledger runs on SQLite or PostgreSQL
            raise RuntimeError(f"unsupported ledger database {dialect}")
        stmt = dialect_insert(ConsentState.__table__)
        _UPSERTS[dialect] = stmt.on_conflict_do_update(
            index_elements=["subject_id", "target_type", "target_key"],
            set_={name: stmt.excluded[name] for name in STATE_COLUMNS[3:]},
            where=ConsentState.__table__.c.seq < stmt.excluded.seq,
        )
    return _UPSERTS[dialect]


def upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    """Write the latest decision per (subject, target); a row with a lower seq never wins."""
    if rows:
        session.execute(_upsert_statement(session.get_bind().dialect.name), rows)


def latest_consent_events() -> Any:
    """The fold of the ledger: the latest ``consent`` event per (subject, target), as rows of
    ``STATE_COLUMNS`` (a subquery). ``rebuild`` writes it; ``state_check`` compares with it."""
    e = LedgerEvent
    ranked = (
        select(
            e.subject_id,
            e.target_type,
            e.target_key,
            e.id.label("event_id"),
            e.seq,
            e.decision,
            e.purpose_version,
            e.purpose_hash,
            e.recorded_at,
            e.valid_until,
            func.row_number()
            .over(partition_by=(e.subject_id, e.target_type, e.target_key), order_by=e.seq.desc())
            .label("rn"),
        )
        .where(e.kind == "consent")
        .subquery("ranked")
    )
    return select(*[ranked.c[c] for c in STATE_COLUMNS]).where(ranked.c.rn == 1).subquery("fold")


def rebuild(session: Session) -> int:
    """Derive ``consent_state`` and subject groups again from ``ledger_events``; returns rows."""
    session.execute(delete(ConsentState))
    fold = latest_consent_events()
    session.execute(insert(ConsentState).from_select(list(STATE_COLUMNS), select(fold)))
    session.execute(update(Subject).values(root_id=Subject.id))
    links = session.execute(
        select(LedgerEvent.subject_id, LedgerEvent.related_subject_id)
        .where(LedgerEvent.kind == "linked")
        .order_by(LedgerEvent.seq)
    ).all()
    apply_links(session, ((a, b) for a, b in links if b is not None))
    return session.scalar(select(text("count(*)")).select_from(ConsentState)) or 0


def apply_links(session: Session, links: Iterable[tuple[str, str]]) -> None:
    from consent_service.subjects.service import root_of, set_root

    for source, target in links:
        old_root, new_root = root_of(session, source), root_of(session, target)
        if old_root and new_root and old_root != new_root:
            set_root(session, old_root, new_root)


def snapshot(session: Session) -> list[tuple[Any, ...]]:
    """The projection as sorted tuples, for comparing a rebuild with the live state."""
    rows = session.execute(select(*[getattr(ConsentState, c) for c in STATE_COLUMNS])).all()
    roots = session.execute(select(Subject.id, Subject.root_id)).all()
    return sorted(tuple(r) for r in rows) + sorted(("root",) + tuple(r) for r in roots)
