"""The batch logic of a whole-ledger verification, without a database: events fed in batches of
any size give the same report as one pass; a changed event is named by its seq whichever batch it
falls in; the percentage shown stays within 0..100."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from consent_service.ledger.audit import LedgerAudit
from consent_service.ledger.chain import VerifyReport, link
from consent_service.ledger.models import GENESIS_HASH
from consent_service.ledger.verification import percent

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def chain(n: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "id": str(uuid.UUID(int=i)),
            "kind": "consent",
            "subject_id": f"s{i % 7}",
            "target_type": "purpose",
            "target_key": "analytics",
            "decision": "granted" if i % 3 else "withdrawn",
            "recorded_at": BASE + dt.timedelta(seconds=i),
            "actor_type": "client",
            "actor_id": "test",
        }
        for i in range(n)
    ]
    link(rows, 0, GENESIS_HASH)
    return rows


def walk(rows: list[dict[str, Any]], batch: int) -> tuple[VerifyReport, list[int]]:
    """Feed ``rows`` in batches as ``execute`` does; the progress seen after each batch."""
    head_seq, head_hash = (rows[-1]["seq"], rows[-1]["hash"]) if rows else (0, GENESIS_HASH)
    audit = LedgerAudit(head_seq, [], VerifyReport())
    seen = []
    for start in range(0, len(rows), batch):
        audit.feed(rows[start : start + batch])
        seen.append(audit.checked)
    assert audit.last_seq == head_seq
    return audit.conclude(head_seq, head_hash, []), seen


@settings(max_examples=40)
@given(n=st.integers(0, 120), batch=st.integers(1, 50))
def test_any_batch_size_gives_the_report_of_one_pass(n, batch):
    rows = chain(n)
    report, seen = walk(rows, batch)
    whole, _ = walk(rows, max(n, 1))
    assert report.ok and report.as_dict() == whole.as_dict()
    assert report.events_checked == n
    assert seen == sorted(seen) and (not seen or seen[-1] == n)
    assert all(0 <= percent(done, n) <= 100 for done in seen)


@settings(max_examples=40)
@given(n=st.integers(2, 80), batch=st.integers(1, 30), data=st.data())
def test_a_changed_event_is_named_whichever_batch_it_is_in(n, batch, data):
    rows = chain(n)
    at = data.draw(st.integers(1, n))
    rows[at - 1] = rows[at - 1] | {
        "decision": "denied" if rows[at - 1]["decision"] != "denied" else "granted"
    }
    report, _ = walk(rows, batch)
    assert not report.ok
    assert report.first_bad_seq == at and report.problem == "content does not match its hash (modified)"


def test_a_head_beyond_the_last_event_is_a_truncation():
    rows = chain(10)
    audit = LedgerAudit(12, [], VerifyReport())
    audit.feed(rows)
    report = audit.conclude(12, "f" * 64, [])
    assert not report.ok and report.first_bad_seq == 11 and "removed" in (report.problem or "")
    assert audit.total == 12


def test_percent_counts_whole_percent_and_an_empty_ledger_is_done():
    assert percent(0, 300) == 0
    assert percent(64, 300) == 21
    assert percent(300, 300) == 100
    assert percent(310, 300) == 100  # events that arrived while it ran
    assert percent(0, 0) == 100
