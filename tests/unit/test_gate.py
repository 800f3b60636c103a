"""The gate's rule for every reason it gives."""

import datetime as dt

import pytest

from consent_service.ledger.gate import PurposeInfo, StateInfo, decide

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
