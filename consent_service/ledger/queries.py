"""Reading the ledger: gate decisions (one and batch), current consents, history, change feed.

All functions are read-only and run in a read unit of work (no write lock on SQLite).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Boolean, Integer, String, bindparam, select, text
from sqlalchemy.orm import Session, aliased
from sqlalchemy.types import TypeEngine

from consent_service.context import Context
from consent_service.crypto.envelope import ERASED, DecryptionFailed, field_aad, open_sealed
from consent_service.db import UTCDateTime
from consent_service.errors import InvalidInput, UnknownCookie, UnknownPurpose
from consent_service.ledger import projection
from consent_service.ledger.gate import (
    CookieDecision,
    Decision,
    PurposeInfo,
    StateInfo,
    decide,
    decide_for_cookie,
)
from consent_service.ledger.group_states import BATCH_CHUNK, group_states, purpose_info
from consent_service.ledger.group_states import LIMIT_SQL as _LIMIT_SQL
from consent_service.ledger.models import ConsentState, LedgerEvent, ProofKey
from consent_service.registry.models import Cookie, Purpose
from consent_service.subjects import identity_types
from consent_service.subjects import service as subjects
from consent_service.subjects.models import Identity, Subject
from consent_service.subjects.service import IdentityRef

MAX_BATCH = 10_000

SubjectRef = IdentityRef | str  # an identity, or a subject id
# A proof whose retention ended (its proof key was destroyed); "[erased]" means the subject's
# data key was destroyed (crypto-shredding).
PROOF_EXPIRED = "[expired]"
_NO_ROW = object()  # an event recorded before proof keys: its proof is sealed under the data key


def _purpose_info(session: Session, key: str) -> PurposeInfo:
    row = session.execute(
        select(Purpose.legal_basis, Purpose.current_hash, Purpose.current_version).where(Purpose.key == key)
    ).first()
    if row is None:
        raise UnknownPurpose(f"purpose {key!r} is not registered")
    return PurposeInfo(key, row[0], row[1], row[2])


def _latest_state(session: Session, root_id: str, purpose_key: str) -> StateInfo | None:
    row = session.execute(
        select(
            ConsentState.decision, ConsentState.purpose_hash, ConsentState.valid_until, ConsentState.event_id
        )
        .join(Subject, Subject.id == ConsentState.subject_id)
        .where(
            Subject.root_id == root_id,
            ConsentState.target_type == "purpose",
            ConsentState.target_key == purpose_key,
        )
        .order_by(ConsentState.seq.desc())
        .limit(1)
    ).first()
    return StateInfo(row[0], row[1], row[2], row[3]) if row else None


def _digests(ctx: Context, ref: IdentityRef) -> list[str]:
    """The blind-index digests of an identity; a registered type's value is normalised first."""
    return ctx.crypto.lookup_digests(ref.type, identity_types.canonical(ctx, ref.type, ref.value))


def _root_for(session: Session, ctx: Context, ref: SubjectRef) -> str | None:
    if isinstance(ref, str):
        return subjects.root_of(session, ref)
    return session.scalar(
        select(Subject.root_id)
        .join(Identity, Identity.subject_id == Subject.id)
        .where(
            Identity.type == ref.type,
            Identity.blind_index.in_(_digests(ctx, ref)),
        )
    )


_STATE_COLUMNS: dict[str, TypeEngine[Any]] = {
    "legal_basis": String(),
    "current_hash": String(),
    "current_version": Integer(),
    "decision": String(),
    "purpose_hash": String(),
    "valid_until": UTCDateTime(),
    "event_id": String(),
    "backed_seq": Integer(),
    "shredded_at": UTCDateTime(),
    "limited": String(),
}
# The event a projection row cites, found by primary key, and only if it really is that row's
# latest consent event: the gate reads decision, purpose hash and validity from the event.
_GATE_SQL = (
    "WITH r AS ({root}) "
    "SELECT p.legal_basis, p.current_hash, p.current_version, "
    "s.decision, s.purpose_hash, s.valid_until, s.event_id, s.backed_seq, "
    "(SELECT k.shredded_at FROM subject_keys k WHERE k.subject_id = (SELECT root_id FROM r)) AS shredded_at, "
    + _LIMIT_SQL.format(root="(SELECT root_id FROM r)", marketing="p.direct_marketing")
    + " AS limited "
    "FROM purposes p LEFT JOIN ("
    "  SELECT e.decision, e.purpose_hash, e.valid_until, cs.event_id, e.seq AS backed_seq"
    "  FROM consent_state cs"
    "  JOIN subjects m ON m.id = cs.subject_id"
    "  LEFT JOIN ledger_events e ON "
    + projection.BACKED_BY
    + "  WHERE m.root_id = (SELECT root_id FROM r) AND cs.target_type = {target_type} AND cs.target_key = {target}"
    "  ORDER BY cs.seq DESC LIMIT 1"
    ") s ON 1 = 1 WHERE p.key = :purpose"
)
_IDENTITY_ROOT = (
    "SELECT r.root_id FROM identities i JOIN subjects r ON r.id = i.subject_id "
    "WHERE i.type = :kind AND i.blind_index {match}"
)


def _gate_statements(target_type: str, target: str) -> tuple[Any, Any, Any]:
    """The gate's query for a subject id, an identity, and an identity under two index keys
    (while re-indexing): the purpose ``:purpose`` with its limits, and the subject group's latest
    state for the target (``target_type``, ``target``: SQL literal and parameter)."""
    sql = _GATE_SQL.replace("{target_type}", target_type).replace("{target}", target)
    by_id = text(sql.format(root="SELECT root_id FROM subjects WHERE id = :ref")).columns(**_STATE_COLUMNS)
    by_identity = text(sql.format(root=_IDENTITY_ROOT.format(match="= :ref"))).columns(**_STATE_COLUMNS)
    by_identities = (
        text(sql.format(root=_IDENTITY_ROOT.format(match="IN :refs")))
        .bindparams(bindparam("refs", expanding=True))
        .columns(**_STATE_COLUMNS)
    )
    return by_id, by_identity, by_identities


# the gate for a purpose (its own state) and, for a cookie, the cookie's state under its purpose
_GATE_PURPOSE = _gate_statements("'purpose'", ":purpose")
_GATE_COOKIE = _gate_statements("'cookie'", ":cookie")


def _gate_row(ctx: Context, statements: tuple[Any, Any, Any], ref: SubjectRef, params: dict[str, Any]) -> Any:
    if isinstance(ref, str):
        return ctx.db.fetch_one(statements[0], {"ref": ref, **params})
    digests = _digests(ctx, ref)
    if len(digests) == 1:
        return ctx.db.fetch_one(statements[1], {"ref": digests[0], "kind": ref.type, **params})
    return ctx.db.fetch_one(statements[2], {"refs": digests, "kind": ref.type, **params})


def _state(row: Any) -> StateInfo | None:
    return StateInfo(row.decision, row.purpose_hash, row.valid_until, row.event_id) if row.event_id else None


def decide_one(ctx: Context, ref: SubjectRef, purpose_key: str) -> Decision:
    """The gate's answer for one subject; unknown subjects get ``no_consent``.

    One indexed query: the purpose, the subject's group root and the group's latest state.
    """
    row = _gate_row(ctx, _GATE_PURPOSE, ref, {"purpose": purpose_key})
    if row is None:
        raise UnknownPurpose(f"purpose {purpose_key!r} is not registered")
    purpose = PurposeInfo(purpose_key, row.legal_basis, row.current_hash, row.current_version)
    return decide(
        purpose,
        _state(row),
        ctx.now(),
        erased=row.shredded_at is not None,
        limited=row.limited,
        backed=row.backed_seq is not None,
    )


_COOKIE_PURPOSE = text(
    "SELECT c.purpose_key, p.strictly_necessary FROM cookies c JOIN purposes p ON p.key = c.purpose_key "
    "WHERE c.name = :cookie"
).columns(purpose_key=String(), strictly_necessary=Boolean())


def decide_cookie(ctx: Context, ref: SubjectRef, cookie: str) -> CookieDecision:
    """The gate's answer for a cookie of one subject (the rule: ``gate.decide_for_cookie``).

    Three indexed queries: the cookie's purpose, then the purpose gate's query for the purpose
    and the same query for the cookie's own latest decision.
    """
    found = ctx.db.fetch_one(_COOKIE_PURPOSE, {"cookie": cookie})
    if found is None:
        raise UnknownCookie(f"cookie {cookie!r} is not registered")
    params = {"purpose": found.purpose_key, "cookie": cookie}
    by_purpose = _gate_row(ctx, _GATE_PURPOSE, ref, params)
    by_cookie = _gate_row(ctx, _GATE_COOKIE, ref, params)
    if by_purpose is None or by_cookie is None:  # the cookie's purpose went away meanwhile
        raise UnknownCookie(f"cookie {cookie!r} is not registered")
    purpose = PurposeInfo(
        found.purpose_key, by_purpose.legal_basis, by_purpose.current_hash, by_purpose.current_version
    )
    return decide_for_cookie(
        cookie,
        purpose,
        ctx.now(),
        strictly_necessary=bool(found.strictly_necessary),
        purpose_state=_state(by_purpose),
        purpose_backed=by_purpose.backed_seq is not None,
        cookie_state=_state(by_cookie),
        cookie_backed=by_cookie.backed_seq is not None,
        erased=by_purpose.shredded_at is not None,
        limited=by_purpose.limited,
    )


_BATCH_IDENTITIES = text(
    "SELECT blind_index, subject_id FROM identities WHERE type = :kind AND blind_index IN :digests"
).bindparams(bindparam("digests", expanding=True))


def decide_batch(ctx: Context, purpose_key: str, refs: Sequence[SubjectRef]) -> list[Decision]:
    """Answers in the order of ``refs`` (up to 10,000).

    Identities are resolved in one query per type and chunk; then one query per chunk of
    subject ids reads, for each subject, its group's states for the purpose and whether the
    group was erased.
    """
    if len(refs) > MAX_BATCH:
        raise InvalidInput("batch too large", errors={"subjects": [f"at most {MAX_BATCH} subjects"]})
    now = ctx.now()
    with ctx.db.engine.connect() as conn:
        purpose = purpose_info(conn, purpose_key)
        subject_of: list[str | None] = [r if isinstance(r, str) else None for r in refs]
        by_digest: dict[str, dict[str, list[int]]] = {}
        for i, ref in enumerate(refs):
            if not isinstance(ref, str):
                for digest in _digests(ctx, ref):
                    by_digest.setdefault(ref.type, {}).setdefault(digest, []).append(i)
        for kind, positions in by_digest.items():
            digests = list(positions)
            for start in range(0, len(digests), BATCH_CHUNK):
                chunk = digests[start : start + BATCH_CHUNK]
                for digest, subject_id in conn.execute(_BATCH_IDENTITIES, {"kind": kind, "digests": chunk}):
                    for i in positions[digest]:
                        subject_of[i] = subject_id
        wanted = list({s for s in subject_of if s is not None})
        found = group_states(conn, purpose, wanted)
        conn.rollback()
    none = decide(purpose, None, now)
    return [found[s].decide(purpose, now) if s in found else none for s in subject_of]


def resolve_subject(ctx: Context, ref: IdentityRef) -> str | None:
    with ctx.uow(write=False) as uow:
        return subjects.resolve(uow.session, ctx.crypto, ref)


def current_consents(ctx: Context, subject_id: str) -> dict[str, Any]:
    """Latest decision per target across the subject's linked group, with gate reasons (a
    cookie's decision judged against its purpose: a new version of the purpose outdates it).

    Each decision is read from the ledger event the projection cites, as the gate reads it; a
    projection row that does not match its event shows no decision and ``state_unverified``.
    """
    now = ctx.now()
    with ctx.uow(write=False) as uow:
        session = uow.session
        subject = subjects.require_subject(session, subject_id)
        # the aliases the shared join condition names: cs (the projection row), e (its event)
        cs, event = aliased(ConsentState, name="cs"), aliased(LedgerEvent, name="e")
        rows = session.execute(
            select(cs, event)
            .join(Subject, Subject.id == cs.subject_id)
            .outerjoin(event, text(projection.BACKED_BY))
            .where(Subject.root_id == subject.root_id)
            .order_by(cs.seq)
        ).all()
        latest: dict[tuple[str, str], tuple[ConsentState, LedgerEvent | None]] = {}
        for row, event_row in rows:
            latest[(row.target_type, row.target_key)] = (row, event_row)
        purposes = {p.key: p for p in session.scalars(select(Purpose))}
        cookie_purposes = {
            name: key for name, key in session.execute(select(Cookie.name, Cookie.purpose_key))
        }
        items = []
        for (target_type, target_key), (row, cited) in sorted(latest.items()):
            item: dict[str, Any] = {
                "target_type": target_type,
                "target_key": target_key,
                "decision": cited.decision if cited else None,
                "event_id": row.event_id,
                "seq": row.seq,
                "subject_id": row.subject_id,
                "purpose_version": cited.purpose_version if cited else None,
                "recorded_at": cited.recorded_at if cited else row.recorded_at,
                "valid_until": cited.valid_until if cited else None,
            }
            governing = target_key if target_type == "purpose" else cookie_purposes.get(target_key)
            if cited is None:
                item["reason"] = "state_unverified"
            elif governing in purposes:
                p = purposes[governing]
                info = PurposeInfo(p.key, p.legal_basis, p.current_hash, p.current_version)
                state = StateInfo(
                    str(cited.decision), str(cited.purpose_hash), cited.valid_until, row.event_id
                )
                item["reason"] = decide(info, state, now).reason
            items.append(item)
        return {"subject_id": subject_id, "root_id": subject.root_id, "consents": items}


EVENT_FIELDS = (
    "id", "seq", "kind", "subject_id", "related_subject_id", "target_type", "target_key", "decision",
    "purpose_version", "purpose_hash", "channel", "method", "collection_point", "language",
    "jurisdiction", "recorded_at", "valid_until", "actor_type", "actor_id", "hash",
    "related_event_id", "recorded_at_source", "source",
)  # fmt: skip


def event_view(event: Mapping[str, Any]) -> dict[str, Any]:
    """An event as the API shows it (never the proof), with ``purpose`` / ``cookie`` spelled out."""
    out = {name: event.get(name) for name in EVENT_FIELDS}
    out["purpose"] = event["target_key"] if event["target_type"] == "purpose" else None
    out["cookie"] = event["target_key"] if event["target_type"] == "cookie" else None
    return out


def _event_dict(event: LedgerEvent) -> dict[str, Any]:
    return event_view({name: getattr(event, name) for name in EVENT_FIELDS})


def history(ctx: Context, subject_id: str) -> dict[str, Any]:
    """Every event of the subject's linked group, oldest first, with the proof decrypted.

    A proof reads ``[expired]`` once its retention ended and ``[erased]`` once the subject was
    shredded.
    """
    with ctx.uow(write=False) as uow:
        session = uow.session
        subject = subjects.require_subject(session, subject_id)
        members = subjects.group_members(session, subject.root_id)
        events = session.scalars(
            select(LedgerEvent).where(LedgerEvent.subject_id.in_(members)).order_by(LedgerEvent.seq)
        ).all()
        keys = {m: subjects.data_key(session, ctx.crypto, m) for m in members}
        proof_keys = proof_keys_of(session, members)
        out = []
        for event in events:
            item = _event_dict(event)
            item["proof"] = open_proof(keys.get(event.subject_id), event, proof_keys.get(event.id, _NO_ROW))
            out.append(item)
        return {
            "subject_id": subject_id,
            "root_id": subject.root_id,
            "identities": subjects.identities_of(session, ctx.crypto, subject_id),
            "events": out,
        }


def proof_keys_of(session: Session, subject_ids: Sequence[str]) -> dict[str, bytes | None]:
    """Event id → wrapped proof key (None once purged) for every proof key of these subjects."""
    rows = session.execute(
        select(ProofKey.event_id, ProofKey.wrapped_key).where(ProofKey.subject_id.in_(list(subject_ids)))
    )
    return {event_id: (bytes(wrapped) if wrapped is not None else None) for event_id, wrapped in rows}


def open_proof(
    key: bytes | None, event: LedgerEvent, wrapped: bytes | None | object = _NO_ROW
) -> dict[str, Any] | str | None:
    """The event's proof; ``wrapped`` is its proof key row's wrapped key (absent: no row)."""
    if event.proof_ct is None:
        return None
    if key is None:
        return ERASED
    if wrapped is None:
        return PROOF_EXPIRED
    try:
        if isinstance(wrapped, bytes):
            key = open_sealed(key, wrapped, field_aad(event.subject_id, "proof_keys", "key", event.id))
        raw = open_sealed(
            key, event.proof_ct, field_aad(event.subject_id, "ledger_events", "proof", event.id)
        )
    except DecryptionFailed:
        return ERASED
    return json.loads(raw)


def as_utc(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None
