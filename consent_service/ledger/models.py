"""Ledger tables.

``ledger_events`` is append-only: the database refuses UPDATE and DELETE on it (triggers
created by the migrations). Each row's ``hash`` is SHA-256 over the previous hash and the
row's canonical bytes (ciphertext included), so shredding a key later leaves the chain valid.
``ledger_head`` holds the last sequence number and hash; writers lock it to append in order.
``consent_state`` is the projection: the latest decision per subject and target.
``ledger_witnesses`` remembers, per configured witness URL, the last checkpoint it accepted.
``ledger_tree_cosignatures`` keeps witnesses' cosignatures on the Merkle tree's checkpoints and
``ledger_tree_witnesses`` how far each witness of ``CONSENT_LOG_WITNESSES`` cosigned.
``ledger_verifications`` keeps each whole-ledger verification with its progress and result.
``consent_counts`` holds the consent statistics, folded from the events as they follow the ledger
(``ledger.counts``), ``consent_daily`` the same summed over channel and language and
``consent_purpose_daily`` summed over sites too, which the statistics read;
``consent_counts_state`` how far they follow the ledger and the time zone of their days.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent_service.db import Base, UTCDateTime

GENESIS_HASH = "0" * 64


class LedgerEvent(Base):
    __tablename__ = "ledger_events"
    __table_args__ = (
        Index("ix_ledger_events_subject_seq", "subject_id", "seq"),
        Index("ix_ledger_events_target_seq", "target_key", "seq"),  # the feed's purpose filter
    )

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("subjects.id"))
    target_type: Mapped[str | None] = mapped_column(String(8))
    target_key: Mapped[str | None] = mapped_column(String(128))
    decision: Mapped[str | None] = mapped_column(String(16))
    purpose_version: Mapped[int | None] = mapped_column(Integer)
    purpose_hash: Mapped[str | None] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(32))
    method: Mapped[str | None] = mapped_column(String(32))
    collection_point: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str | None] = mapped_column(String(16))
    jurisdiction: Mapped[str | None] = mapped_column(String(16))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str] = mapped_column(String(64))
    related_subject_id: Mapped[str | None] = mapped_column(String(40))
    proof_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # Added later; hashed only when set (``chain.OPTIONAL_HASHED_FIELDS``). An imported event's
    # time on the platform it came from, and that platform; the ledger order stays the import's.
    recorded_at_source: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[str | None] = mapped_column(String(64))
    # The event this one follows from, e.g. the pending grant a double opt-in confirms.
    related_event_id: Mapped[str | None] = mapped_column(String(36))


class LedgerHead(Base):
    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class ConsentState(Base):
    __tablename__ = "consent_state"

    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("subjects.id"), primary_key=True)
    target_type: Mapped[str] = mapped_column(String(8), primary_key=True)
    target_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36))
    seq: Mapped[int] = mapped_column(BigInteger)
    decision: Mapped[str] = mapped_column(String(16))
    purpose_version: Mapped[int] = mapped_column(Integer)
    purpose_hash: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class ProofKey(Base):
    """The key that seals one event's proof, itself sealed under the subject's data key.

    Destroying ``wrapped_key`` (proof retention) makes that proof unreadable while the event,
    its hash and the subject's other data stay as they are. Events recorded before proof keys
    existed have no row: their proof is sealed under the data key directly.
    """

    __tablename__ = "proof_keys"
    __table_args__ = (Index("ix_proof_keys_target", "subject_id", "target_type", "target_key"),)

    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("subjects.id"))
    target_type: Mapped[str] = mapped_column(String(8))
    target_key: Mapped[str] = mapped_column(String(128))
    recorded_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    purged_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Checkpoint(Base):
    __tablename__ = "ledger_checkpoints"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    head_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    key_id: Mapped[str] = mapped_column(String(32))
    signature: Mapped[str] = mapped_column(String(128))


class Witness(Base):
    """Delivery of signed checkpoints to one witness URL: how far it got and when to try again."""

    __tablename__ = "ledger_witnesses"

    url: Mapped[str] = mapped_column(String(500), primary_key=True)
    delivered_seq: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


# The limits the gate enforces (written by data subject requests, ``dsar.limits``): restrictions
# (Art. 18), objections (Art. 21) and erasures kept under a legal hold.
class SubjectRestriction(Base):
    __tablename__ = "subject_restrictions"
    __table_args__ = (Index("ix_subject_restrictions_lookup", "subject_id", "purpose_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject_id: Mapped[str] = mapped_column(String(40), ForeignKey("subjects.id"))
    purpose_key: Mapped[str] = mapped_column(String(64))  # "*" = every purpose
    kind: Mapped[str] = mapped_column(String(12))  # restriction | objection
    absolute: Mapped[bool] = mapped_column(default=False)
    request_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("dsar_requests.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    lift_reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None]


class LedgerVerification(Base):
    """One verification of the whole ledger (``ledger.verification``): who started it, how far it
    got (``checked`` of ``total`` events, written after every batch) and what it found."""

    __tablename__ = "ledger_verifications"
    __table_args__ = (Index("ix_ledger_verifications_state", "state", "started_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(12))  # queued | running | completed | failed | interrupted
    started_by: Mapped[str] = mapped_column(String(254))  # a staff member's e-mail, an API client, "cli"
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    heartbeat_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    total: Mapped[int] = mapped_column(BigInteger)  # the head's seq when it began (at the end: when it ended)
    checked: Mapped[int] = mapped_column(BigInteger)
    ok: Mapped[bool | None] = mapped_column(Boolean)
    first_bad_seq: Mapped[int | None] = mapped_column(BigInteger)
    problem: Mapped[str | None] = mapped_column(Text)
    report: Mapped[dict[str, Any]]
    error: Mapped[str | None] = mapped_column(Text)


class SuppressedAddress(Base):
    """A hashed e-mail address that stays on suppression lists after its subject was erased
    (written by ``erasure.shred`` before the key is destroyed): the hash is all that is kept."""

    __tablename__ = "suppressed_addresses"
    __table_args__ = (
        Index("ix_suppressed_addresses_purpose", "purpose_key", "id"),
        # the list is read in hash order, each hash once (and a readable subject's hash is looked up)
        Index("ix_suppressed_addresses_hash", "email_sha256", "purpose_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email_sha256: Mapped[str] = mapped_column(String(64))  # of the trimmed, lower-cased address
    purpose_key: Mapped[str | None] = mapped_column(String(64))  # None = every purpose
    reason: Mapped[str] = mapped_column(String(12))  # erased
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class ConsentCount(Base):
    """Consent decisions on purposes per day and cell, folded from the ledger (``ledger.counts``).

    ``events`` counts the cell's events; ``first_events`` those that were their subject's first
    decision on the purpose that day, so it never exceeds the cell's distinct subjects (the
    lower bound the statistics' minimum-subjects rule rests on). Absent dimensions are ``''``.
    The key leads with the purpose and the day: a year of one purpose is one index range.
    """

    __tablename__ = "consent_counts"
    __table_args__ = (Index("ix_consent_counts_day", "day"),)

    purpose_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    method: Mapped[str] = mapped_column(String(32), primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    first_events: Mapped[int] = mapped_column(BigInteger)


class ConsentDaily(Base):
    """``consent_counts`` summed over channel and language: what the statistics read, so a year
    by day of one purpose is a few thousand rows of one index range."""

    __tablename__ = "consent_daily"
    __table_args__ = (Index("ix_consent_daily_day", "day"), Index("ix_consent_daily_site_day", "site", "day"))

    purpose_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    site: Mapped[str] = mapped_column(String(64), primary_key=True)
    decision: Mapped[str] = mapped_column(String(16), primary_key=True)
    method: Mapped[str] = mapped_column(String(32), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    first_events: Mapped[int] = mapped_column(BigInteger)


class ConsentPurposeDaily(Base):
    """``consent_daily`` summed over sites: what the statistics read when no site is asked for,
    so that a year of all purposes is days x purposes x decisions x methods rows, however many
    sites there are."""

    __tablename__ = "consent_purpose_daily"
    __table_args__ = (Index("ix_consent_purpose_daily_day", "day"),)

    purpose_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    decision: Mapped[str] = mapped_column(String(16), primary_key=True)
    method: Mapped[str] = mapped_column(String(32), primary_key=True)
    events: Mapped[int] = mapped_column(BigInteger)
    first_events: Mapped[int] = mapped_column(BigInteger)


class ConsentCountsState(Base):
    """One row: how far the consent counts follow the ledger (``through_seq``: every event up to
    that seq is counted, none after it) and the time zone whose calendar days they are in (UTC
    as the migrations built them, then the configured one as of the last ``stats rebuild``)."""

    __tablename__ = "consent_counts_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    through_seq: Mapped[int] = mapped_column(BigInteger)
    time_zone: Mapped[str] = mapped_column(String(64))


class LedgerTreeTile(Base):
    """One tile of the ledger's Merkle tree (``ledger.tree``): up to ``tree.WIDTH`` hashes, 32
    bytes each, of the complete nodes of tree level ``tree.HEIGHT * level`` with node indexes
    ``idx * WIDTH`` onwards; the rightmost tile of a level grows until it is full."""

    __tablename__ = "ledger_tree_tiles"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hashes: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerTreeState(Base):
    """One row: how many ledger events (in seq order, from seq 1) are leaves of the tree."""

    __tablename__ = "ledger_tree_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    size: Mapped[int] = mapped_column(BigInteger)


class LedgerTreeCheckpoint(Base):
    """A signed checkpoint of the tree (c2sp.org/tlog-checkpoint in a signed note), one per
    tree size the log signed."""

    __tablename__ = "ledger_tree_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class LedgerTreeCosignature(Base):
    """A witness's cosignature (c2sp.org/tlog-cosignature) on the tree's checkpoint of ``size``,
    verified with the witness's key before it was stored (``ledger.cosigning``): its signature
    line, to be appended to the checkpoint's note, its key ID (hex) and its time (POSIX s)."""

    __tablename__ = "ledger_tree_cosignatures"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    witness: Mapped[str] = mapped_column(String(200), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(8))
    timestamp: Mapped[int] = mapped_column(BigInteger)
    line: Mapped[str] = mapped_column(Text)


class LedgerTreeWitness(Base):
    """Asking one witness (by name) for cosignatures: the size of the last checkpoint it
    cosigned, as far as the log knows, and when to try again after a failure."""

    __tablename__ = "ledger_tree_witnesses"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
