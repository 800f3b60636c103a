"""Writing to the ledger: record consent decisions and link subjects.

Guarantees of ``record_consent``:
- all decisions of one call land together, with their projection, or none do;
- the write leaves the consent counts alone: they follow the ledger afterwards (``ledger.counts``);
- events get consecutive sequence numbers under a lock on the ledger head, so concurrent
  writers (threads or processes, SQLite or PostgreSQL) never fork the chain; the writes of one
  process's threads share that lock and one commit (``ledger.sequencer``: group commit), each
  in its own savepoint, so one write's refusal leaves the others of its batch alone;
- when the call returns, its batch has committed: the projection already answers with the new
  decisions (a withdrawal acknowledged is a gate that denies);
- the proof (truncated IP, user agent, URL, GPC signal, TC/GPP string) is sealed under a fresh
  proof key per event before it is hashed and stored; the proof key is stored sealed under the
  subject's data key (``proof_keys``), so the proof's retention can end by destroying that one
  wrapped key while the ledger row, and so the hash chain, stay untouched.
"""

from __future__ import annotations

import ipaddress
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import JSON, Boolean, Integer, String, Table, bindparam, insert, text
from sqlalchemy.orm import Session

from consent_service.context import Context
from consent_service.crypto.envelope import field_aad, seal
from consent_service.db import UTCDateTime
from consent_service.durations import add_duration
from consent_service.errors import Conflict, InvalidInput, UnknownReference
from consent_service.hashing import canonical_json
from consent_service.ledger import checkpoints, projection, sequencer
from consent_service.ledger.chain import link
from consent_service.ledger.models import LedgerEvent, ProofKey
from consent_service.ledger.receipts import build_receipt, log_of
from consent_service.ledger.sequencer import lock_head
from consent_service.subjects import service as subjects
from consent_service.subjects.service import IdentityRef

CHANNELS = ("banner", "web_form", "crm", "api", "import", "email", "app", "phone", "paper")
METHODS = ("accept_all", "reject_all", "custom", "gpc", "api")
# "pending": a grant that waits for its confirmation (double opt-in); the gate denies it
DECISIONS = ("granted", "denied", "withdrawn", "pending")


@dataclass(frozen=True)
class DecisionInput:
    target_type: str  # "purpose" | "cookie"
    target_key: str
    granted: bool
    method: str | None = None


@dataclass
class RecordConsent:
    decisions: Sequence[DecisionInput]
    channel: str
    method: str
    actor_type: str
    actor_id: str
    subject: IdentityRef | None = None
    subject_id: str | None = None
    collection_point: str | None = None
    language: str | None = None
    jurisdiction: str | None = None
    proof: dict[str, Any] = field(default_factory=dict)
    related_event_id: str | None = None  # the event these decisions follow from (a confirmation)
    # called in the same transaction with the session, the subject id and the new events, before
    # commit: a feature above the ledger writes what belongs with them (a confirmation link)
    within: Callable[[Session, str, list[dict[str, Any]]], None] | None = None


@dataclass
class Recorded:
    subject_id: str
    subject_created: bool
    events: list[dict[str, Any]]
    receipt: dict[str, Any]


def truncate_ip(value: str) -> str:
    """IPv4 to its /24, IPv6 to its /48: enough for proof, not enough to single out a device."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError as exc:
        raise InvalidInput(
            "bad IP address", errors={"proof": {"ip": [f"{value!r} is not an IP address"]}}
        ) from exc
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


_MOVE_HEAD = text("UPDATE ledger_head SET seq = :seq, hash = :hash WHERE id = 1")
# Core inserts on the tables, not ORM-enabled ones on the classes: the same SQL without the
# ORM's bulk-insert bookkeeping on every call (about 0.4 ms CPU per consent write).
_INSERT_EVENTS = insert(cast(Table, LedgerEvent.__table__))
_EVENT_COLUMNS = tuple(c.key for c in LedgerEvent.__table__.columns)
_INSERT_PROOF_KEYS = insert(cast(Table, ProofKey.__table__))
PROOF_KEY_BYTES = 32
_TARGET = text(
    "SELECT p.key, p.current_version, p.current_hash, p.consent_validity, v.legal_basis, "
    "v.data_categories, v.data_uses, p.consent_collected_at IS NULL AS first_consent, p.confirmation "
    "FROM purposes p JOIN purpose_versions v "
    "ON v.purpose_key = p.key AND v.version = p.current_version WHERE p.key = :key"
).columns(
    key=String(),
    current_version=Integer(),
    current_hash=String(),
    consent_validity=String(),
    legal_basis=String(),
    data_categories=JSON(),
    data_uses=JSON(),
    first_consent=Boolean(),
    confirmation=String(),
)
# Set once per purpose, on its first consent decision; later events match no row and lock none.
_COLLECTED = text(
    "UPDATE purposes SET consent_collected_at = :now WHERE key = :key AND consent_collected_at IS NULL"
).bindparams(bindparam("now", type_=UTCDateTime()))
_COOKIE = text("SELECT purpose_key FROM cookies WHERE name = :name")
_GROUP_STATE = text(
    "SELECT cs.target_type, cs.target_key, e.decision FROM consent_state cs "
    "JOIN subjects m ON m.id = cs.subject_id "
    "JOIN ledger_events e ON " + projection.BACKED_BY + " "
    "WHERE m.root_id = (SELECT root_id FROM subjects WHERE id = :sid) AND cs.target_key IN :keys "
    "ORDER BY cs.seq"
).bindparams(bindparam("keys", expanding=True))


def insert_proof_keys(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(_INSERT_PROOF_KEYS, rows)


def append(session: Session, head: tuple[int, str], rows: list[dict[str, Any]]) -> tuple[int, str]:
    """Chain ``rows`` after ``head`` (assigning seq, prev_hash, hash), insert them and move the
    head, in the caller's transaction. The consent counts follow afterwards (``ledger.counts``)."""
    seq, prev = link(rows, *head)
    session.execute(_INSERT_EVENTS, [{name: row.get(name) for name in _EVENT_COLUMNS} for row in rows])
    session.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})
    return seq, prev


def targets(
    session: Session, decisions: Sequence[DecisionInput]
) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """Purposes (current version) and cookies (their purpose) named; InvalidInput for unknown ones."""
    purpose_keys = {d.target_key for d in decisions if d.target_type == "purpose"}
    cookie_names = [d.target_key for d in decisions if d.target_type == "cookie"]
    # One small statement per target: decisions name few targets, and fixed statements are
    # compiled once, where an expanding IN would be compiled on every call.
    cookies: dict[str, str] = {}
    for name in cookie_names:
        purpose_key = session.execute(_COOKIE, {"name": name}).scalar()
        if purpose_key is not None:
            cookies[name] = purpose_key
    purpose_keys |= set(cookies.values())
    purposes = {}
    for key in sorted(purpose_keys):
        row = session.execute(_TARGET, {"key": key}).first()
        if row is not None:
            purposes[key] = row._asdict()
    errors: dict[str, list[str]] = {}
    for index, d in enumerate(decisions):
        known = purposes if d.target_type == "purpose" else cookies
        if d.target_key not in known:
            errors.setdefault(f"decisions.{index}", []).append(f"unknown {d.target_type} {d.target_key!r}")
    if errors:
        raise UnknownReference("the request names unknown purposes or cookies", errors=errors)
    return purposes, cookies


def seal_proof(
    key: bytes, subject_id: str, event_id: str, target: DecisionInput, now: Any, proof_bytes: bytes
) -> tuple[dict[str, Any], bytes]:
    """(the ``proof_keys`` row, the proof sealed under its fresh key) for one event."""
    proof_key = os.urandom(PROOF_KEY_BYTES)
    row = {
        "event_id": event_id,
        "subject_id": subject_id,
        "target_type": target.target_type,
        "target_key": target.target_key,
        "recorded_at": now,
        "wrapped_key": seal(key, proof_key, field_aad(subject_id, "proof_keys", "key", event_id)),
        "purged_at": None,
    }
    return row, seal(proof_key, proof_bytes, field_aad(subject_id, "ledger_events", "proof", event_id))


def mark_collected(session: Session, purposes: dict[str, dict[str, Any]], now: Any) -> None:
    """Note the first consent decision of each purpose that had none."""
    for first in sorted(k for k, p in purposes.items() if p["first_consent"]):
        session.execute(_COLLECTED, {"now": now, "key": first})


def _needs_confirmation(cmd: RecordConsent, d: DecisionInput, purpose: dict[str, Any]) -> bool:
    """A grant of a double opt-in purpose for an e-mail address waits for its confirmation,
    unless it is that confirmation (it follows from the pending event)."""
    return (
        d.target_type == "purpose"
        and purpose.get("confirmation") == "double_opt_in"
        and cmd.subject is not None
        and cmd.subject.type == "email"
        and cmd.related_event_id is None
    )


@dataclass(frozen=True)
class _Applied:
    """What one consent write's job did in its batch."""

    subject_id: str
    created: bool
    rows: list[dict[str, Any]]
    purposes: dict[str, dict[str, Any]]
    now: Any
    before: int  # the head's seq before and after its events
    after: int


def record_consent(ctx: Context, cmd: RecordConsent) -> Recorded:
    """Append one event per decision, update the projection, and sign a receipt.

    The database work runs as one job of this process's next write batch (``ledger.sequencer``:
    group commit); the receipt is signed once that batch committed."""
    if not cmd.decisions:
        raise InvalidInput("no decisions given", errors={"decisions": ["give at least one decision"]})
    seen = set()
    for index, d in enumerate(cmd.decisions):
        if (d.target_type, d.target_key) in seen:
            raise InvalidInput(
                "duplicate target",
                errors={f"decisions.{index}": [f"{d.target_type} {d.target_key!r} appears twice"]},
            )
        seen.add((d.target_type, d.target_key))
    proof = dict(cmd.proof)
    if proof.get("ip"):
        proof["ip"] = truncate_ip(str(proof["ip"]))
    proof_bytes = canonical_json(proof)
    event_ids = [str(uuid.uuid4()) for _ in cmd.decisions]

    def apply(session: Session, head: tuple[int, str]) -> tuple[tuple[int, str], _Applied]:
        return _apply(ctx, session, head, cmd, proof_bytes, event_ids)

    done: _Applied = sequencer.submit(ctx, apply)
    receipt = build_receipt(
        config=ctx.config,
        signer=ctx.signer,
        subject_id=done.subject_id,
        events=done.rows,
        purposes=done.purposes,
        now=done.now,
        log=log_of(ctx),
    )
    checkpoints.nudge(ctx, done.before, done.after)
    return Recorded(done.subject_id, done.created, done.rows, receipt)


def _apply(
    ctx: Context,
    session: Session,
    head: tuple[int, str],
    cmd: RecordConsent,
    proof_bytes: bytes,
    event_ids: list[str],
) -> tuple[tuple[int, str], _Applied]:
    """The database part of ``record_consent``, in its batch's transaction under the head lock."""
    now = ctx.now()
    purposes, cookies = targets(session, cmd.decisions)
    if cmd.subject_id is not None:
        subjects.require_subject(session, cmd.subject_id)
        subject_id, created = cmd.subject_id, False
    else:
        assert cmd.subject is not None
        subject_id, created = subjects.get_or_create(session, ctx.crypto, cmd.subject, now)
    key = subjects.data_key(session, ctx.crypto, subject_id)
    if key is None:
        raise Conflict(f"subject {subject_id} has been erased; it cannot record new consent")
    previous = {} if created else _current_decisions(session, subject_id, cmd.decisions)
    rows = []
    proof_keys = []
    for d, event_id in zip(cmd.decisions, event_ids, strict=True):
        purpose_key = d.target_key if d.target_type == "purpose" else cookies[d.target_key]
        purpose = purposes[purpose_key]
        if d.granted:
            decision = "pending" if _needs_confirmation(cmd, d, purpose) else "granted"
        else:
            decision = "withdrawn" if previous.get((d.target_type, d.target_key)) == "granted" else "denied"
        proof_key_row, proof_ct = seal_proof(key, subject_id, event_id, d, now, proof_bytes)
        proof_keys.append(proof_key_row)
        rows.append(
            {
                "id": event_id,
                "kind": "consent",
                "subject_id": subject_id,
                "target_type": d.target_type,
                "target_key": d.target_key,
                "purpose_key": purpose_key,
                "decision": decision,
                "purpose_version": purpose["current_version"],
                "purpose_hash": purpose["current_hash"],
                "channel": cmd.channel,
                "method": d.method or cmd.method,
                "collection_point": cmd.collection_point,
                "language": cmd.language,
                "jurisdiction": cmd.jurisdiction,
                "recorded_at": now,
                "valid_until": add_duration(now, purpose["consent_validity"]),
                "actor_type": cmd.actor_type,
                "actor_id": cmd.actor_id,
                "related_subject_id": None,
                "related_event_id": cmd.related_event_id,
                "proof_ct": proof_ct,
            }
        )
    new_head = append(session, head, rows)
    insert_proof_keys(session, proof_keys)
    mark_collected(session, purposes, now)
    projection.upsert(session, [projection.state_row(r) for r in rows])
    if cmd.within is not None:
        cmd.within(session, subject_id, rows)
    return new_head, _Applied(subject_id, created, rows, purposes, now, head[0], new_head[0])


def _current_decisions(
    session: Session, subject_id: str, decisions: Sequence[DecisionInput]
) -> dict[tuple[str, str], str]:
    """Latest decision per target across the subject's linked group."""
    rows = session.execute(_GROUP_STATE, {"sid": subject_id, "keys": [d.target_key for d in decisions]})
    return {(t, k): decision for t, k, decision in rows}


def rebuild_state(ctx: Context) -> int:
    """Rebuild the projection from the ledger alone, with writers held off by the head lock."""
    with ctx.uow() as uow:
        lock_head(uow.session)
        rows = projection.rebuild(uow.session)
        uow.commit()
    return rows


def link_subjects(
    ctx: Context, source: str, target: str, *, actor_type: str, actor_id: str
) -> dict[str, Any]:
    """Link subject ``source`` (e.g. a device) to ``target`` (e.g. a customer).

    Both histories stay as they are; from now on the gate answers for either subject from the
    latest decision across the whole linked group. Recorded as a ``linked`` event.
    """
    if source == target:
        raise Conflict(
            "the two identities are already the same subject", errors={"to": ["same subject as 'from'"]}
        )
    with ctx.uow() as uow:
        session = uow.session
        subjects.require_subject(session, source)
        subjects.require_subject(session, target)
        for member in (source, target):
            if subjects.data_key(session, ctx.crypto, member) is None:
                raise Conflict(f"subject {member} has been erased; it cannot be linked")
        head = lock_head(session)
        old_root, new_root = subjects.root_of(session, source), subjects.root_of(session, target)
        assert old_root is not None and new_root is not None
        if old_root == new_root:
            return {"linked": False, "root_id": new_root, "event": None}
        row = {
            "id": str(uuid.uuid4()),
            "kind": "linked",
            "subject_id": source,
            "related_subject_id": target,
            "recorded_at": ctx.now(),
            "actor_type": actor_type,
            "actor_id": actor_id,
        }
        append(session, head, [row])
        subjects.set_root(session, old_root, new_root)
        uow.commit()
    return {"linked": True, "root_id": new_root, "event": {"id": row["id"], "seq": row["seq"]}}
