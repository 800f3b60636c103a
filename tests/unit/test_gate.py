"""The gate's rule for every reason it gives."""

import datetime as dt

import pytest

from consent_service.ledger.gate import REASONS, PurposeInfo, StateInfo, decide, decide_for_cookie

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
CONSENT = PurposeInfo("newsletter", "consent", "h2", 2)


def state(decision="granted", phash="h2", valid_days=30):
    return StateInfo(decision, phash, NOW + dt.timedelta(days=valid_days), "evt-1")


@pytest.mark.parametrize(
    ("purpose", "current", "allowed", "reason"),
    [
        (CONSENT, None, False, "no_consent"),
        (CONSENT, state(), True, "consent_granted"),
        (CONSENT, state("denied"), False, "consent_denied"),
        (CONSENT, state("withdrawn"), False, "consent_withdrawn"),
        (CONSENT, state(valid_days=-1), False, "consent_expired"),
        (CONSENT, state(valid_days=0), False, "consent_expired"),
        (CONSENT, state(phash="h1"), False, "consent_outdated"),
        (PurposeInfo("billing", "contract", "h", 1), None, True, "legal_basis"),
        (PurposeInfo("fraud", "legitimate_interests", "h", 1), state("denied"), True, "legal_basis"),
    ],
)
def test_reasons(purpose, current, allowed, reason):
    decision = decide(purpose, current, NOW)
    assert (decision.allowed, decision.reason) == (allowed, reason)
    assert decision.legal_basis == purpose.legal_basis


def test_an_expired_consent_is_expired_before_it_is_outdated():
    assert decide(CONSENT, state(phash="h1", valid_days=-1), NOW).reason == "consent_expired"


def test_a_grant_names_its_event_and_validity():
    decision = decide(CONSENT, state(), NOW)
    assert decision.event_id == "evt-1"
    assert decision.valid_until == NOW + dt.timedelta(days=30)


@pytest.mark.parametrize("purpose", [CONSENT, PurposeInfo("billing", "contract", "h", 1)])
def test_an_erased_subject_is_erased_for_every_purpose(purpose):
    decision = decide(purpose, state(), NOW, erased=True)
    assert (decision.allowed, decision.reason, decision.event_id) == (False, "erased", None)


def cookie(purpose=CONSENT, *, necessary=False, by_purpose=None, by_cookie=None, **kwargs):
    return decide_for_cookie(
        "_ga",
        purpose,
        NOW,
        strictly_necessary=necessary,
        purpose_state=by_purpose,
        cookie_state=by_cookie,
        **kwargs,
    )


NECESSARY = PurposeInfo("essential", "legitimate_interests", "h", 1)
INTEREST = PurposeInfo("fraud", "legitimate_interests", "h", 1)


@pytest.mark.parametrize(
    ("answer", "allowed", "reason", "decided_by"),
    [
        (cookie(NECESSARY, necessary=True), True, "strictly_necessary", "purpose"),
        (
            cookie(NECESSARY, necessary=True, by_cookie=state("denied", "h")),
            True,
            "strictly_necessary",
            "purpose",
        ),
        (cookie(), False, "no_consent", "purpose"),
        (cookie(by_purpose=state()), True, "consent_granted", "purpose"),
        (cookie(by_purpose=state("withdrawn")), False, "consent_withdrawn", "purpose"),
        (cookie(by_purpose=state(), by_cookie=state("denied")), False, "consent_denied", "cookie"),
        # a cookie's own decision narrows its purpose's and cannot widen it (Planet49)
        (cookie(by_purpose=state("denied"), by_cookie=state()), False, "consent_denied", "purpose"),
        (cookie(by_purpose=state("withdrawn"), by_cookie=state()), False, "consent_withdrawn", "purpose"),
        (cookie(by_purpose=state(), by_cookie=state()), True, "consent_granted", "cookie"),
        (cookie(by_purpose=state("denied"), by_cookie=state("denied")), False, "consent_denied", "cookie"),
        # an outdated or expired grant of the cookie leaves the answer to the purpose's current one
        (cookie(by_purpose=state(), by_cookie=state(phash="h1")), True, "consent_granted", "purpose"),
        (cookie(by_purpose=state(), by_cookie=state(valid_days=-1)), True, "consent_granted", "purpose"),
        (cookie(by_purpose=state("denied"), by_cookie=state(phash="h1")), False, "consent_denied", "purpose"),
        # a cookie's decision is judged against its purpose's current version, as the purpose's is
        (cookie(by_cookie=state(phash="h1")), False, "consent_outdated", "cookie"),
        (cookie(by_cookie=state(valid_days=-1)), False, "consent_expired", "cookie"),
        (cookie(by_cookie=state(), cookie_backed=False), False, "state_unverified", "cookie"),
        (cookie(by_purpose=state(), purpose_backed=False), False, "state_unverified", "purpose"),
        # a cookie that is not strictly necessary needs consent whatever the purpose's legal basis
        (cookie(INTEREST), False, "no_consent", "purpose"),
        (cookie(INTEREST, by_cookie=state(phash="h")), True, "consent_granted", "cookie"),
        # the person's rights and erasure come before anything consented to or necessary
        (cookie(NECESSARY, necessary=True, erased=True), False, "erased", "purpose"),
        (cookie(by_cookie=state(), limited="restriction"), False, "restricted", "purpose"),
        (cookie(by_cookie=state(), limited="objection"), False, "objected", "purpose"),
        (cookie(NECESSARY, necessary=True, limited="held"), False, "held", "purpose"),
    ],
)
def test_cookie_reasons(answer, allowed, reason, decided_by):
    assert (answer.allowed, answer.reason, answer.decided_by) == (allowed, reason, decided_by)
    assert answer.cookie == "_ga" and answer.reason in REASONS


def test_a_cookie_answer_cites_the_event_that_decided():
    answer = cookie(by_purpose=state(), by_cookie=StateInfo("granted", "h2", None, "evt-cookie"))
    assert (answer.event_id, answer.valid_until, answer.purpose) == ("evt-cookie", None, "newsletter")
