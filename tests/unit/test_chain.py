"""The hash chain: any sequence of appends verifies; any single change to stored bytes is found."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from consent_service.ledger.chain import (
    HASHED_FIELDS,
    OPTIONAL_HASHED_FIELDS,
    ChainVerifier,
    event_digest,
    link,
)
from consent_service.ledger.models import GENESIS_HASH

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

event_strategy = st.fixed_dictionaries(
    {
        "id": st.uuids().map(str),
        "kind": st.sampled_from(["consent", "linked"]),
        "subject_id": st.text(min_size=1, max_size=20),
        "target_type": st.sampled_from(["purpose", "cookie", None]),
        "target_key": st.text(max_size=30),
        "decision": st.sampled_from(["granted", "denied", "withdrawn", None]),
        "purpose_version": st.integers(1, 50) | st.none(),
        "purpose_hash": st.text(alphabet="0123456789abcdef", min_size=64, max_size=64),
        "channel": st.sampled_from(["banner", "api", "crm"]),
        "method": st.sampled_from(["accept_all", "custom", "gpc"]),
        "collection_point": st.text(max_size=40) | st.none(),
        "language": st.sampled_from(["de", "en", None]),
        "jurisdiction": st.sampled_from(["EU", "DE", None]),
        "recorded_at": st.integers(0, 10**9).map(lambda s: BASE + dt.timedelta(microseconds=s)),
        "valid_until": st.none() | st.integers(0, 10**9).map(lambda s: BASE + dt.timedelta(seconds=s)),
        "actor_type": st.sampled_from(["client", "site"]),
        "actor_id": st.text(min_size=1, max_size=20),
        "related_subject_id": st.none() | st.text(min_size=1, max_size=20),
        "proof_ct": st.none() | st.binary(min_size=1, max_size=80),
    }
)


def chained(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = [dict(e) for e in events]
    link(rows, 0, GENESIS_HASH)
    return rows


def verify(rows: list[dict[str, Any]], head: tuple[int, str] | None = None):
    verifier = ChainVerifier()
    for row in rows:
        verifier.feed(row)
    if head is None:
        head = (rows[-1]["seq"], rows[-1]["hash"]) if rows else (0, GENESIS_HASH)
    return verifier.finish(*head)


@settings(max_examples=60, deadline=None)
@given(st.lists(event_strategy, min_size=0, max_size=25))
def test_any_sequence_of_appends_verifies(events):
    rows = chained(events)
    report = verify(rows)
    assert report.ok, report.details
    assert report.events_checked == len(rows)


@settings(max_examples=120, deadline=None)
@given(
    st.lists(event_strategy, min_size=1, max_size=12),
    st.data(),
)
def test_any_single_change_to_stored_fields_is_detected(events, data):
    rows = chained(events)
    head = (rows[-1]["seq"], rows[-1]["hash"])
    index = data.draw(st.integers(0, len(rows) - 1))
    name = data.draw(st.sampled_from(HASHED_FIELDS + OPTIONAL_HASHED_FIELDS + ("hash",)))
    original = rows[index].get(name)
    replacement = data.draw(_other_value(original))
    rows[index] = {**rows[index], name: replacement}
    report = verify(rows, head)
    assert not report.ok
    assert report.first_bad_seq is not None and report.first_bad_seq <= index + 1 + (name == "seq")


def _other_value(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, bool) or value is None:
        return st.just("tampered")
    if isinstance(value, int):
        return st.integers(-5, 10**6).filter(lambda v: v != value)
    if isinstance(value, dt.datetime):
        return st.integers(1, 10**6).map(lambda us: value + dt.timedelta(microseconds=us))
    if isinstance(value, bytes):
        return st.binary(min_size=1, max_size=80).filter(lambda v: v != value)
    return st.text(max_size=70).filter(lambda v: v != value)


def test_deleted_inserted_and_reordered_events_name_the_first_bad_seq():
    rows = chained([_event(i) for i in range(6)])
    head = (rows[-1]["seq"], rows[-1]["hash"])

    deleted = rows[:2] + rows[3:]
    assert verify(deleted, head).first_bad_seq == 3

    swapped = rows[:2] + [rows[3], rows[2]] + rows[4:]
    assert verify(swapped, head).first_bad_seq == 3

    forged = dict(rows[2], id="forged")
    forged["hash"] = event_digest(forged)
    inserted = rows[:3] + [dict(forged, seq=3)] + rows[3:]
    assert verify(inserted, head).first_bad_seq == 3

    truncated = rows[:-1]
    report = verify(truncated, head)
    assert not report.ok and report.first_bad_seq == 6


def test_hash_covers_ciphertext_not_plaintext():
    row = _event(0)
    row["proof_ct"] = b"\x01\x02"
    other = dict(row, proof_ct=b"\x01\x03")
    assert event_digest(row) != event_digest(other)


def test_a_column_added_later_changes_no_earlier_hash_and_is_covered_once_set():
    row = _event(0)
    before = event_digest(row)
    assert event_digest(dict(row, source=None, recorded_at_source=None, related_event_id=None)) == before
    imported = dict(row, source="other-platform", recorded_at_source=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert event_digest(imported) != before
    assert event_digest(dict(imported, source="another-platform")) != event_digest(imported)


def test_naive_and_aware_utc_hash_alike():
    aware = _event(0)
    naive = dict(aware, recorded_at=aware["recorded_at"].replace(tzinfo=None))
    assert event_digest(aware) == event_digest(naive)


def _event(i: int) -> dict[str, Any]:
    return {
        "id": f"e{i}",
        "kind": "consent",
        "subject_id": f"s{i % 2}",
        "target_type": "purpose",
        "target_key": "newsletter",
        "decision": "granted",
        "purpose_version": 1,
        "purpose_hash": "a" * 64,
        "channel": "api",
        "method": "api",
        "collection_point": None,
        "language": "de",
        "jurisdiction": "EU",
        "recorded_at": BASE + dt.timedelta(seconds=i),
        "valid_until": None,
        "actor_type": "client",
        "actor_id": "c",
        "related_subject_id": None,
        "proof_ct": b"ct",
    }
