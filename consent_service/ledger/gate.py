"""The processing gate's rule: may a subject be processed for a purpose, and why.

``decide`` is pure (no database, no clock); ``consent_service.ledger.queries`` feeds it.
A deny is an answer, not an error. A crypto-shredded subject is ``erased`` for every purpose,
whatever its legal basis: nothing may be processed about a person whose data was erased. A
restriction (Art. 18) answers ``restricted`` and an objection (Art. 21) ``objected`` for the
purposes they name (an objection to direct marketing: for every direct-marketing purpose, also
those registered later), also whatever the legal basis. After an erasure that a legal hold kept
from completing, every purpose answers ``held`` but the holds' own purposes (``dsar.limits``).

A cookie is answered by ``decide_for_cookie``: a cookie of a strictly necessary purpose is
allowed; any other needs consent (ePrivacy Directive Art. 5(3), TDDDG § 25), which the
subject's decision for that cookie gives when there is one, else the decision for its purpose.

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
    "confirmation_pending",
    "no_consent",
    "consent_expired",
    "consent_outdated",
    "legal_basis",
    "erased",
    "restricted",
    "objected",
    "held",
    "state_unverified",
    "strictly_necessary",
)
# answers that hold whatever was consented to: the person's rights and erasure come first
LIMITS = frozenset({"erased", "restricted", "objected", "held"})


class CookieDecision(NamedTuple):
    """The gate's answer for a cookie: as for a purpose, plus the cookie, its purpose, and whether
    the subject's decision for the cookie itself or that for its purpose ``decided_by``."""

    allowed: bool
    reason: str
    legal_basis: str
    event_id: str | None
    valid_until: dt.datetime | None
    cookie: str
    purpose: str
    decided_by: str  # "cookie" | "purpose"


def decide(
    purpose: PurposeInfo,
    state: StateInfo | None,
    now: dt.datetime,
    *,
    erased: bool = False,
    limited: str | None = None,
    backed: bool = True,
    consent_needed: bool = False,
) -> Decision:
    """``limited`` is ``"restriction"``, ``"objection"`` or ``"held"`` when one is in force for the
    purpose (``held``: an erasure kept the data only under a legal hold, for another purpose);
    ``backed`` is False when the projection's row does not match the event it cites;
    ``consent_needed``: only consent allows, whatever the purpose's legal basis (a cookie)."""
    basis = purpose.legal_basis
    if erased:
        return Decision(False, "erased", basis)
    if limited == "restriction":
        return Decision(False, "restricted", basis)
    if limited == "objection":
        return Decision(False, "objected", basis)
    if limited == "held":
        return Decision(False, "held", basis)
    if basis != "consent" and not consent_needed:
        return Decision(True, "legal_basis", basis)
    if state is None:
        return Decision(False, "no_consent", basis)
    if not backed:
        return Decision(False, "state_unverified", basis, state.event_id)
    if state.decision == "denied":
        return Decision(False, "consent_denied", basis, state.event_id, state.valid_until)
    if state.decision == "withdrawn":
        return Decision(False, "consent_withdrawn", basis, state.event_id, state.valid_until)
    if state.decision == "pending":
        return Decision(False, "confirmation_pending", basis, state.event_id, state.valid_until)
    if state.valid_until is not None and state.valid_until <= now:
        return Decision(False, "consent_expired", basis, state.event_id, state.valid_until)
    if state.purpose_hash != purpose.current_hash:
        return Decision(False, "consent_outdated", basis, state.event_id, state.valid_until)
    return Decision(True, "consent_granted", basis, state.event_id, state.valid_until)


# what a decision for the cookie itself answers with, whatever its purpose's decision says
COOKIE_REFUSALS = frozenset({"consent_denied", "consent_withdrawn", "state_unverified"})


def decide_for_cookie(
    cookie: str,
    purpose: PurposeInfo,
    now: dt.datetime,
    *,
    strictly_necessary: bool,
    purpose_state: StateInfo | None,
    cookie_state: StateInfo | None,
    purpose_backed: bool = True,
    cookie_backed: bool = True,
    erased: bool = False,
    limited: str | None = None,
) -> CookieDecision:
    """May a cookie be set or read for the subject, and why. In this order:

    1. erasure, restriction, objection and hold answer as for the cookie's purpose (``LIMITS``);
    2. a cookie of a ``strictly_necessary`` purpose is allowed (``strictly_necessary``): storing it
       needs no consent (ePrivacy Art. 5(3), second sentence; TDDDG § 25(2) no. 2);
    3. any other cookie needs consent, whatever its purpose's GDPR legal basis. A decision for
       the cookie itself narrows the purpose's, it cannot widen it (CJEU C-673/17 Planet49: the
       choice per cookie within the purpose): a refusal of the cookie denies (``decided_by:
       cookie``); a refusal or withdrawal of the purpose denies whatever the cookie's grant says
       (``decided_by: purpose``: withdrawing a purpose withdraws its cookies); a grant of both
       allows (``cookie``); a cookie's grant with no decision on the purpose allows (``cookie``);
       each decision judged against the purpose's current version as the purpose's own is, and
       a grant of the cookie that is outdated or expired leaves the answer to the purpose's;
    4. neither decided: ``no_consent``.
    """
    limit = decide(purpose, None, now, erased=erased, limited=limited)
    decided_by = "purpose"
    if limit.reason in LIMITS:
        answer = limit
    elif strictly_necessary:
        answer = Decision(True, "strictly_necessary", purpose.legal_basis)
    else:
        by_cookie = (
            None
            if cookie_state is None
            else decide(purpose, cookie_state, now, backed=cookie_backed, consent_needed=True)
        )
        answer = decide(purpose, purpose_state, now, backed=purpose_backed, consent_needed=True)
        if by_cookie is not None and (
            purpose_state is None
            or by_cookie.reason in COOKIE_REFUSALS
            or (answer.allowed and by_cookie.allowed)
        ):
            answer, decided_by = by_cookie, "cookie"
    return CookieDecision(*answer, cookie=cookie, purpose=purpose.key, decided_by=decided_by)
