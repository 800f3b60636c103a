"""Legal holds: data that must be kept whatever retention or an erasure request would do.

A hold is on a subject (and so on the whole linked group: every record of that person in every
store, their ledger proofs and their data key), on a store, or on one collection of a store. It
has a reason and an optional end; it is active until it ends or is released. Neither the
sweeper nor an erasure request removes held data, and both say in their reports what was held
and why. Every change is written to the ``holds`` audit log.
The reason (and release reason) of a hold on a subject can be about that person: it is sealed
under the subject's data key (``auditlog.notes``) in the table and in the log, opened by
``opened`` for whoever reads the hold, and named only as ``SEALED_IN_REPORT`` in sweep and
erasure reports. A hold on a store or a collection is about no one person (no shred could
ever reach it), so its reason stays in the clear: name a case there, not a person.
Each function runs in the caller's unit of work and does not commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from consent_service.auditlog import notes
from consent_service.auditlog import service as auditlog
from consent_service.crypto.envelope import Crypto
from consent_service.erasure.models import LegalHold
from consent_service.errors import Conflict, InvalidInput, NotFound, UnknownReference, refused
from consent_service.registry.models import Purpose
from consent_service.stores.models import DataStore
from consent_service.stores.spec import KEY_RE
from consent_service.subjects import service as subjects
from consent_service.subjects.models import Subject

LOG = "holds"
SCOPE_KEYS = ("subject", "store", "collection")
SEALED_IN_REPORT = "[sealed under the subject's key: read it on the hold]"


def _seal(session: Session, crypto: Crypto, subject_id: str | None, text: str) -> str:
    if subject_id is None:
        return text
    key = subjects.data_key(session, crypto, subject_id)
    return notes.seal_note(key, text, subject_id=subject_id, where=LOG)


def opened(session: Session, crypto: Crypto, view: dict[str, Any]) -> dict[str, Any]:
    """``view`` with a subject hold's reasons opened (or erased once the subject is shredded)."""
    subject_id = view["scope"].get("subject")
    if subject_id is None:
        return view
    key = subjects.data_key(session, crypto, subject_id)
    return view | {
        name: notes.open_note(key, view[name], subject_id=subject_id, where=LOG)
        for name in ("reason", "release_reason")
    }


def hold_view(hold: LegalHold, now: dt.datetime | None = None) -> dict[str, Any]:
    scope: dict[str, str] = {}
    if hold.subject_id:
        scope["subject"] = hold.subject_id
    if hold.store:
        scope["store"] = hold.store
    if hold.collection:
        scope["collection"] = hold.collection
    out: dict[str, Any] = {
        "key": hold.key,
        "scope": scope,
        "reason": hold.reason,
        "ends_at": hold.ends_at,
        "purpose": hold.purpose,
        "created_at": hold.created_at,
        "created_by": hold.created_by,
        "updated_at": hold.updated_at,
        "released_at": hold.released_at,
        "released_by": hold.released_by,
        "release_reason": hold.release_reason,
    }
    if now is not None:
        out["active"] = is_active(hold, now)
    return out


def is_active(hold: LegalHold, now: dt.datetime) -> bool:
    return hold.released_at is None and (hold.ends_at is None or hold.ends_at > now)


def _scope(session: Session, doc: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    scope = doc.get("scope") or {}
    if not isinstance(scope, dict):
        raise InvalidInput("the hold's scope is not valid", errors={"scope": ["must be an object"]})
    errors: dict[str, list[str]] = {}
    for name in sorted(scope):
        if name not in SCOPE_KEYS:
            errors[f"scope.{name}"] = ["unknown key"]
        elif scope[name] is not None and not isinstance(scope[name], str):
            errors[f"scope.{name}"] = ["must be a string"]
    if errors:
        raise InvalidInput("the hold's scope is not valid", errors=errors)
    subject_id, store, collection = scope.get("subject"), scope.get("store"), scope.get("collection")
    if not subject_id and not store:
        errors["scope"] = ["name a subject, a store, or a store and one of its collections"]
    if subject_id and (store or collection):
        errors["scope"] = ["a hold is on a subject or on a store (collection), not both"]
    if collection and not store:
        errors["scope.collection"] = ["name the store of the collection too"]
    references: set[tuple[str, str]] = set()
    if subject_id and session.get(Subject, subject_id) is None:
        errors["scope.subject"] = [f"no subject {subject_id!r}"]
        references.add(("scope.subject", errors["scope.subject"][0]))
    if store:
        row = session.get(DataStore, store)
        if row is None:
            errors["scope.store"] = [f"no store {store!r} is registered"]
        elif collection and collection not in row.spec["collections"]:
            errors["scope.collection"] = [f"store {store!r} has no collection {collection!r}"]
        references.update(
            (path, errors[path][0]) for path in ("scope.store", "scope.collection") if path in errors
        )
    if errors:
        raise refused("the hold's scope is not valid", errors, references)
    return subject_id, store, collection


def _purpose(session: Session, key: Any) -> str | None:
    """The purpose held data is kept for: registered, and not one that rests on consent."""
    if key is None:
        return None
    purpose = session.get(Purpose, key) if isinstance(key, str) else None
    if purpose is None:
        raise UnknownReference(
            "the hold's purpose is not valid", errors={"purpose": [f"no purpose {key!r} is registered"]}
        )
    if purpose.legal_basis == "consent":
        raise InvalidInput(
            "the hold's purpose is not valid",
            errors={"purpose": ["data kept under a hold is kept on another basis than consent (Art. 17(3))"]},
        )
    return key


def put_hold(
    session: Session, key: str, doc: dict[str, Any], actor: str, now: dt.datetime, *, crypto: Crypto
) -> tuple[dict[str, Any], bool]:
    """Create a hold, or change the reason or end of an existing one; returns (view, created)."""
    if not KEY_RE.match(key):
        raise InvalidInput("bad hold key", errors={"key": ["use 1-64 of a-z, 0-9, '_', '.', '-'"]})
    reason = doc.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a hold needs a reason", errors={"reason": ["say why the data must be kept"]})
    ends_at = doc.get("ends_at")
    if ends_at is not None and not isinstance(ends_at, dt.datetime):
        raise InvalidInput("ends_at is not a time", errors={"ends_at": ["a date and time with an offset"]})
    if ends_at is not None and ends_at.tzinfo is None:
        raise InvalidInput("ends_at needs a time zone", errors={"ends_at": ["give an offset, e.g. Z"]})
    if ends_at is not None:
        ends_at = ends_at.astimezone(dt.UTC)  # shown and logged as read back: in UTC
    subject_id, store, collection = _scope(session, doc)
    purpose = _purpose(session, doc.get("purpose"))
    sealed = _seal(session, crypto, subject_id, reason)  # before the new row exists (autoflush)
    hold = session.get(LegalHold, key, with_for_update=session.get_bind().dialect.name != "sqlite")
    created = hold is None
    if hold is None:
        hold = LegalHold(
            key=key,
            subject_id=subject_id,
            store=store,
            collection=collection,
            created_at=now,
            created_by=actor,
        )
        session.add(hold)
    elif (hold.subject_id, hold.store, hold.collection) != (subject_id, store, collection):
        raise Conflict("a hold's scope cannot change: release this hold and create another")
    elif hold.released_at is not None:
        raise Conflict(f"hold {key!r} was released on {hold.released_at:%Y-%m-%d}; create a new one")
    elif hold.purpose is not None and purpose != hold.purpose:
        # erasures kept under this hold let only its purpose continue (dsar.execution)
        raise Conflict("a hold's purpose cannot change: release this hold and create another")
    hold.reason, hold.ends_at, hold.updated_at, hold.purpose = sealed, ends_at, now, purpose
    session.flush()
    view = hold_view(hold, now)
    auditlog.append(
        session,
        LOG,
        actor=actor,
        action="placed" if created else "changed",
        details=_audit_details(view),
        now=now,
        subject_id=subject_id,
    )
    return opened(session, crypto, view), created


def release_hold(
    session: Session, key: str, reason: str, actor: str, now: dt.datetime, *, crypto: Crypto
) -> dict[str, Any]:
    hold = session.get(LegalHold, key)
    if hold is None:
        raise NotFound(f"no legal hold {key!r}")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a release needs a reason", errors={"reason": ["say why the hold ends"]})
    if hold.released_at is None:
        sealed = _seal(session, crypto, hold.subject_id, reason)
        hold.released_at, hold.released_by, hold.release_reason = now, actor, sealed
        hold.updated_at = now
        auditlog.append(
            session,
            LOG,
            actor=actor,
            action="released",
            details=_audit_details(hold_view(hold, now)),
            now=now,
            subject_id=hold.subject_id,
        )
    return opened(session, crypto, hold_view(hold, now))


def _audit_details(view: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": view["key"],
        "scope": view["scope"],
        "reason": view["reason"],
        "ends_at": view["ends_at"].isoformat() if view["ends_at"] else None,
        "release_reason": view["release_reason"],
    }


def in_force(now: dt.datetime) -> ColumnElement[bool]:
    """SQL for "the hold is in force at ``now``": not released and not ended."""
    return and_(LegalHold.released_at.is_(None), or_(LegalHold.ends_at.is_(None), LegalHold.ends_at > now))


def get_hold(session: Session, key: str, now: dt.datetime) -> dict[str, Any]:
    hold = session.get(LegalHold, key)
    if hold is None:
        raise NotFound(f"no legal hold {key!r}")
    return hold_view(hold, now)


def list_holds(session: Session, now: dt.datetime, *, active_only: bool = False) -> list[dict[str, Any]]:
    query = select(LegalHold).order_by(LegalHold.key)
    if active_only:
        query = query.where(in_force(now))
    return [hold_view(h, now) for h in session.scalars(query)]


@dataclass
class ActiveHolds:
    """The holds in force at one moment, indexed for the sweeper and erasure."""

    holds: list[dict[str, Any]] = field(default_factory=list)
    by_subject: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def for_collection(self, store: str, collection: str) -> list[dict[str, Any]]:
        """Holds on the whole store or on this collection (not subject holds)."""
        return [
            h
            for h in self.holds
            if h["scope"].get("store") == store and h["scope"].get("collection") in (None, collection)
        ]

    def for_subject(self, subject_id: str) -> list[dict[str, Any]]:
        return self.by_subject.get(subject_id, [])

    @property
    def subject_ids(self) -> set[str]:
        return set(self.by_subject)

    @property
    def subject_holds(self) -> list[dict[str, Any]]:
        return [h for h in self.holds if "subject" in h["scope"]]


def active(session: Session, now: dt.datetime) -> ActiveHolds:
    """Every hold in force at ``now``; a subject hold covers the subject's whole linked group."""
    out = ActiveHolds(holds=list_holds(session, now, active_only=True))
    for hold in out.holds:
        subject_id = hold["scope"].get("subject")
        if subject_id is None:
            continue
        root = subjects.root_of(session, subject_id) or subject_id
        for member in subjects.group_members(session, root) or [subject_id]:
            out.by_subject.setdefault(member, []).append(hold)
    return out


def brief(holds: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a report says about holds: key, scope, reason and end (no personal data)."""
    return [
        {
            "key": h["key"],
            "scope": h["scope"],
            "reason": SEALED_IN_REPORT if notes.is_sealed(h["reason"]) else h["reason"],
            "ends_at": h["ends_at"].isoformat() if h["ends_at"] else None,
            "purpose": h["purpose"],
        }
        for h in holds
    ]
