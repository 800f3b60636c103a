"""The hash chain: canonical bytes of an event, its digest, and verification of a sequence.

``hash[n] = SHA-256(canonical JSON of event n, which includes hash[n-1])``. The canonical form
covers every stored column but the hash itself (a column added later only once it is set);
binary columns (the encrypted proof) enter as
base64 of the ciphertext, so destroying a subject's key never changes a hash.

Pure functions only: no database, no clock.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from consent_service.hashing import canonical_json
from consent_service.ledger.models import GENESIS_HASH

# How much earlier than a checkpoint an event it does not cover may be dated: a writer takes its
# timestamp before it waits for the head lock, so honest events can trail a checkpoint a little.
CLOCK_SLACK = dt.timedelta(minutes=10)

HASHED_FIELDS = (
    "seq",
    "id",
    "kind",
    "subject_id",
    "target_type",
    "target_key",
    "decision",
    "purpose_version",
    "purpose_hash",
    "channel",
    "method",
    "collection_point",
    "language",
    "jurisdiction",
    "recorded_at",
    "valid_until",
    "actor_type",
    "actor_id",
    "related_subject_id",
    "proof_ct",
    "prev_hash",
)
# Columns added after the first events were written: hashed only when set, so that every event
# written before them keeps the hash it was given.
OPTIONAL_HASHED_FIELDS = ("recorded_at_source", "source", "related_event_id")


def _canonical_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def canonical_bytes(event: Mapping[str, Any]) -> bytes:
    """The event's canonical encoding: what its chain hash is taken of, and its Merkle leaf."""
    doc = {name: _canonical_value(event.get(name)) for name in HASHED_FIELDS}
    for name in OPTIONAL_HASHED_FIELDS:
        if event.get(name) is not None:
            doc[name] = _canonical_value(event[name])
    return canonical_json(doc)


def event_digest(event: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(event)).hexdigest()


def link(rows: list[dict[str, Any]], head_seq: int, head_hash: str) -> tuple[int, str]:
    """Give ``rows`` consecutive seqs after the head and chain their hashes; returns the new head."""
    seq, prev = head_seq, head_hash
    for row in rows:
        seq += 1
        row["seq"] = seq
        row["prev_hash"] = prev
        row["hash"] = prev = event_digest(row)
    return seq, prev


@dataclass
class VerifyReport:
    ok: bool = True
    events_checked: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    first_bad_seq: int | None = None
    problem: str | None = None
    checkpoints_checked: int = 0
    details: list[str] = field(default_factory=list)
    state_mismatches: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, seq: int, problem: str) -> None:
        if self.ok:
            self.ok = False
            self.first_bad_seq = seq
            self.problem = problem
        self.details.append(f"seq {seq}: {problem}")

    def fail_state(self, mismatches: list[dict[str, Any]]) -> None:
        """The projection differs from the fold of the events in these rows."""
        if not mismatches:
            return
        self.state_mismatches.extend(mismatches)
        if self.ok:
            self.ok = False
            self.problem = f"consent_state differs from the events in {len(mismatches)} row(s)"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
            "checkpoints_checked": self.checkpoints_checked,
            "state_mismatches": self.state_mismatches,
        }


class ChainVerifier:
    """Feed events in ascending ``seq`` order; then ``finish`` with the stored head."""

    def __init__(self) -> None:
        self.report = VerifyReport()
        self._expected_seq = 1
        self._prev_hash = GENESIS_HASH
        # seq 0 is the empty ledger, whose head is the genesis hash: a checkpoint of it holds.
        self.hash_at: dict[int, str] = {0: GENESIS_HASH}
        self._wanted: set[int] = set()
        self._signed: list[tuple[int, dt.datetime]] = []
        self._next_signed = 0
        self._latest_signed: tuple[int, dt.datetime] | None = None

    def want_hashes_at(self, seqs: Iterable[int]) -> None:
        self._wanted.update(seqs)

    def signed_at(self, checkpoints: Iterable[tuple[int, dt.datetime]]) -> None:
        """(seq, created_at) of signed checkpoints: an event after one of them but recorded well
        before it was signed was appended later with a date in the past (forged)."""
        self._signed = sorted([*self._signed, *checkpoints])

    def _check_recorded_after_checkpoints(self, seq: int, recorded_at: Any) -> None:
        while self._next_signed < len(self._signed) and self._signed[self._next_signed][0] < seq:
            candidate = self._signed[self._next_signed]
            if self._latest_signed is None or candidate[1] > self._latest_signed[1]:
                self._latest_signed = candidate
            self._next_signed += 1
        if self._latest_signed is None or not isinstance(recorded_at, dt.datetime):
            return
        if recorded_at.tzinfo is None:
            recorded_at = recorded_at.replace(tzinfo=dt.UTC)
        cp_seq, signed = self._latest_signed
        if recorded_at < signed - CLOCK_SLACK:
            self.report.fail(
                seq,
                f"recorded before the checkpoint of seq {cp_seq} was signed, yet not covered by it "
                "(appended later with a past date: forged)",
            )

    def feed(self, event: Mapping[Any, Any]) -> None:
        report = self.report
        seq = int(event["seq"])
        report.events_checked += 1
        if seq != self._expected_seq:
            if seq > self._expected_seq:
                report.fail(self._expected_seq, f"event missing (next stored is {seq})")
            else:
                report.fail(seq, "sequence out of order")
        if event["prev_hash"] != self._prev_hash:
            report.fail(seq, "link to the previous event is broken (deleted, inserted or reordered)")
        actual = event_digest(event)
        if actual != event["hash"]:
            report.fail(seq, "content does not match its hash (modified)")
        if self._signed:
            self._check_recorded_after_checkpoints(seq, event.get("recorded_at"))
        if seq in self._wanted:
            self.hash_at[seq] = event["hash"]
        self._prev_hash = event["hash"]
        self._expected_seq = seq + 1
        report.head_seq = seq
        report.head_hash = event["hash"]

    def finish(self, head_seq: int, head_hash: str) -> VerifyReport:
        report = self.report
        if head_seq != report.head_seq or head_hash != report.head_hash:
            bad = min(head_seq, report.head_seq) + 1 if head_seq != report.head_seq else head_seq
            report.fail(
                bad,
                f"stored head (seq {head_seq}) does not match the last event "
                f"(seq {report.head_seq}): events removed or added at the end",
            )
        return report
