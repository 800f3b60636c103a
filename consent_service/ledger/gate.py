"""The processing gate's rule: may a subject be processed for a purpose, and why.

``decide`` is pure (no database, no clock); ``consent_service.ledger.queries`` feeds it.
A deny is an answer, not an error. A crypto-shredded subject is ``erased`` for every purpose,
whatever its legal basis: nothing may be processed about a person whose data was erased. A
restriction (Art. 18) answers ``restricted`` and an objection (Art. 21) ``objected`` for the
purposes they name (an objection to direct marketing: for every direct-marketing purpose, also
those registered later), also whatever the legal basis. After an erasure that a legal hold kept
from completing, every purpose answers ``held`` but the holds' own purposes (``dsar.limits``).

The state is read from the ledger event the projection cites (joined on its primary key), not
from the projection's own columns: a projection row whose cited event is not a consent event
of the same subject and target is ``state_unverified`` (deny), never a grant.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, NamedTuple


@dataclass(frozen=True)
class PurposeInfo:
    key: str
    legal_basis: str
    current_hash: str
    current_version: int
    direct_marketing: bool = False


@dataclass(frozen=True)
class StateInfo:
    decision: str
    purpose_hash: str
    valid_until: dt.datetime | None
    event_id: str


class Decision(NamedTuple):
    """The gate's answer (a named tuple: batches make ten thousand of them)."""

    allowed: bool
    reason: str
    legal_basis: str
    event_id: str | None = None
    valid_until: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "allowed": self.allowed,
            "reason": self.reason,
            "legal_basis": self.legal_basis,
            "event_id": self.event_id,
            "valid_until": self.valid_until,
        }


REASONS = (
    "consent_granted",
    "consent_denied",
    "consent_withdrawn",
    "no_consent",
    "consent_expired",
    "consent_outdated",
    "legal_basis",
    "erased",
    "restricted",
    "objected",
    "held",
    "state_unverified",
)


def decide(
    purpose: PurposeInfo,
    state: StateInfo | None,
    now: dt.datetime,
    *,
    erased: bool = False,
    limited: str | None = None,
    backed: bool = True,
) -> Decision:
    """``limited`` is ``"restriction"``, ``"objection"`` or ``"held"`` when one is in force for the
    purpose (``held``: an erasure kept the data only under a legal hold, for another purpose);
    ``backed`` is False when the projection's row does not match the event it cites."""
    basis = purpose.legal_basis
    if erased:
        return Decision(False, "erased", basis)
    if limited == "restriction":
        return Decision(False, "restricted", basis)
    if limited == "objection":
        return Decision(False, "objected", basis)
    if limited == "held":
        return Decision(False, "held", basis)
    if basis != "consent":
        return Decision(True, "legal_basis", basis)
    if state is None:
        return Decision(False, "no_consent", basis)
    if not backed:
        return Decision(False, "state_unverified", basis, state.event_id)
    if state.decision == "denied":
        return Decision(False, "consent_denied", basis, state.event_id, state.valid_until)
    if state.decision == "withdrawn":
        return Decision(False, "consent_withdrawn", basis, state.event_id, state.valid_until)
    if state.valid_until is not None and state.valid_until <= now:
        return Decision(False, "consent_expired", basis, state.event_id, state.valid_until)
    if state.purpose_hash != purpose.current_hash:
        return Decision(False, "consent_outdated", basis, state.event_id, state.valid_until)
    return Decision(True, "consent_granted", basis, state.event_id, state.valid_until)
