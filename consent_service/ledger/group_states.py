"""The gate's inputs for many subjects at once, read with one query per chunk of subject ids.

Shared by the batch gate (``queries.decide_batch``) and segments (``segments``), so a segment
lists exactly the subjects the gate allows: the same restrictions, objections and legal-hold
limits, the same erasure mark, validity, and the linked group's latest state for the purpose.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Boolean, Integer, String, bindparam, text

from consent_service.errors import UnknownPurpose
from consent_service.ledger import projection
from consent_service.ledger.gate import Decision, PurposeInfo, StateInfo, decide

BATCH_CHUNK = 2000

# The strongest limit in force for the purpose anywhere in the subject's linked group (MAX prefers
# 'restriction', then 'objection', then 'held'; see dsar.limits): rows for the purpose, for every
# purpose ('*'), and for the class '@direct_marketing' when the purpose is one. 'held' (an erasure
# kept under a legal hold) does not apply to a purpose the hold keeps the data for ('held_for').
LIMIT_SQL = (
    "(SELECT MAX(sr.kind) FROM subject_restrictions sr JOIN subjects g ON g.id = sr.subject_id "
    "WHERE g.root_id = {root} AND sr.lifted_at IS NULL AND sr.kind <> 'held_for' "
    "AND (sr.purpose_key IN (:purpose, '*') OR (sr.purpose_key = '@direct_marketing' AND {marketing})) "
    "AND NOT (sr.kind = 'held' AND EXISTS (SELECT 1 FROM subject_restrictions x "
    "JOIN subjects xg ON xg.id = x.subject_id WHERE xg.root_id = {root} AND x.kind = 'held_for' "
    "AND x.purpose_key = :purpose AND x.lifted_at IS NULL)))"
)

_BY_ID = (
    text(
        "SELECT q.id, k.wrapped_key IS NULL AS erased, cs.seq, e.decision, e.purpose_hash, e.valid_until, "
        "cs.event_id, e.seq AS backed_seq, e.recorded_at, "
        + LIMIT_SQL.format(root="q.root_id", marketing=":marketing")
        + " AS limited "
        "FROM subjects q "
        "JOIN subjects m ON m.root_id = q.root_id "
        "LEFT JOIN subject_keys k ON k.subject_id = q.root_id "
        "LEFT JOIN consent_state cs ON cs.subject_id = m.id AND cs.target_type = 'purpose' "
        "AND cs.target_key = :purpose "
        "LEFT JOIN ledger_events e ON " + projection.BACKED_BY + " "
        "WHERE q.id IN :ids"
    )
    .bindparams(bindparam("ids", expanding=True))
    .columns(
        id=String(),
        erased=Boolean(),
        seq=Integer(),
        decision=String(),
        purpose_hash=String(),
        valid_until=String(),
        event_id=String(),
        backed_seq=Integer(),
        recorded_at=String(),
        limited=String(),
    )
)
_PURPOSE = text(
    "SELECT legal_basis, current_hash, current_version, direct_marketing FROM purposes WHERE key = :key"
)


@dataclass(frozen=True, slots=True)
class GroupState:
    """What the gate reads for one subject: its group's latest state for the purpose and limits."""

    erased: bool
    seq: int
    state: StateInfo | None
    limited: str | None
    backed: bool
    decided_at: dt.datetime | None  # when the cited event was recorded

    def decide(self, purpose: PurposeInfo, now: dt.datetime) -> Decision:
        return decide(purpose, self.state, now, erased=self.erased, limited=self.limited, backed=self.backed)


def utc(value: Any) -> dt.datetime | None:
    """A stored timestamp as aware UTC: SQLite gives text (parsed in C), PostgreSQL datetimes."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC)
    return dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)


def purpose_info(conn: Any, key: str) -> PurposeInfo:
    row = conn.execute(_PURPOSE, {"key": key}).first()
    if row is None:
        raise UnknownPurpose(f"purpose {key!r} is not registered")
    return PurposeInfo(key, row[0], row[1], row[2], bool(row[3]))


def group_states(conn: Any, purpose: PurposeInfo, subject_ids: Sequence[str]) -> dict[str, GroupState]:
    """Subject id → its group's gate inputs for ``purpose``; subjects that do not exist are absent."""
    found: dict[str, GroupState] = {}
    for start in range(0, len(subject_ids), BATCH_CHUNK):
        chunk = list(subject_ids[start : start + BATCH_CHUNK])
        params = {"ids": chunk, "purpose": purpose.key, "marketing": purpose.direct_marketing}
        for row in conn.execute(_BY_ID, params):
            seq = row.seq or 0
            known = found.get(row.id)
            if known is None or known.seq < seq:
                state = (
                    StateInfo(row.decision, row.purpose_hash, utc(row.valid_until), row.event_id)
                    if row.event_id
                    else None
                )
                found[row.id] = GroupState(
                    bool(row.erased),
                    seq,
                    state,
                    row.limited,
                    row.backed_seq is not None,
                    utc(row.recorded_at) if row.event_id else None,
                )
    return found
