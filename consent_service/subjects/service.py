"""Subject services: resolve identities, create subjects with their data keys, link subjects.

Guarantees: an identity value is never written in plaintext; two concurrent requests for the
same new identity end with one subject (the loser re-reads the winner's row).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import LargeBinary, bindparam, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from consent_service.crypto.envelope import Crypto, DecryptionFailed, field_aad, open_sealed, seal
from consent_service.db import UTCDateTime
from consent_service.errors import UnknownSubject
from consent_service.subjects import identity_types
from consent_service.subjects.models import Identity, Subject

IDENTITY_TYPES = identity_types.BUILT_IN  # the built-in kinds; operators register more


@dataclass(frozen=True)
class IdentityRef:
    type: str
    value: str


def new_subject_id() -> str:
    return "sub_" + secrets.token_urlsafe(16)


_RESOLVE_ONE = text("SELECT subject_id FROM identities WHERE type = :type AND blind_index = :digest")
_RESOLVE_ANY = text(  # while re-indexing, two index keys are in use
    "SELECT subject_id FROM identities WHERE type = :type AND blind_index IN :digests"
).bindparams(bindparam("digests", expanding=True))
_KEY = text("SELECT kek_version, wrapped_key FROM subject_keys WHERE subject_id = :sid")
_INSERT_SUBJECT = text(
    "INSERT INTO subjects (id, root_id, created_at) VALUES (:id, :id, :created_at)"
).bindparams(bindparam("created_at", type_=UTCDateTime()))
_INSERT_KEY = text(
    "INSERT INTO subject_keys (subject_id, kek_version, wrapped_key, created_at) "
    "VALUES (:sid, :version, :wrapped, :created_at)"
).bindparams(bindparam("created_at", type_=UTCDateTime()), bindparam("wrapped", type_=LargeBinary()))
_INSERT_IDENTITY = text(
    "INSERT INTO identities (subject_id, type, blind_index, index_version, value_ct, created_at) "
    "VALUES (:sid, :type, :digest, :index_version, :ct, :created_at)"
).bindparams(bindparam("created_at", type_=UTCDateTime()), bindparam("ct", type_=LargeBinary()))


def checked(session: Session, ref: IdentityRef) -> IdentityRef:
    """The identity as it is sealed and indexed: a registered type's value normalised by its rule
    (422 for a type neither built in nor registered, or a value that breaks its pattern)."""
    if ref.type in IDENTITY_TYPES:
        return ref
    return IdentityRef(ref.type, identity_types.stored_value(session, ref.type, ref.value))


def resolve(session: Session, crypto: Crypto, ref: IdentityRef) -> str | None:
    """The subject id an identity points to, or None."""
    ref = checked(session, ref)
    digests = crypto.lookup_digests(ref.type, ref.value)
    if len(digests) == 1:
        return session.execute(_RESOLVE_ONE, {"type": ref.type, "digest": digests[0]}).scalar()
    return session.execute(_RESOLVE_ANY, {"type": ref.type, "digests": digests}).scalar()


def require_subject(session: Session, subject_id: str) -> Subject:
    subject = session.get(Subject, subject_id)
    if subject is None:
        raise UnknownSubject(f"subject {subject_id!r} is not known")
    return subject


_ROOT = text("SELECT root_id FROM subjects WHERE id = :sid")


def root_of(session: Session, subject_id: str) -> str | None:
    return session.execute(_ROOT, {"sid": subject_id}).scalar()


def data_key(session: Session, crypto: Crypto, subject_id: str) -> bytes | None:
    """The subject's data key, or None once it has been shredded.

    The wrapped key is read from the database every time, so a shred in any process takes
    effect at once everywhere; only the unwrapping is cached.
    """
    row = session.execute(_KEY, {"sid": subject_id}).first()
    if row is None or row[1] is None:
        crypto.cache.purge(subject_id)
        return None
    return crypto.unwrap(subject_id, row[0], bytes(row[1]))


_KEY_STATE = text(
    "SELECT k.kek_version, k.wrapped_key FROM subjects s "
    "LEFT JOIN subject_keys k ON k.subject_id = s.id WHERE s.id = :sid"
)


def key_state(session: Session, crypto: Crypto, subject_id: str) -> tuple[bool, bytes | None]:
    """(the subject exists, its data key or None once shredded) in one query."""
    row = session.execute(_KEY_STATE, {"sid": subject_id}).first()
    if row is None:
        return False, None
    if row[1] is None:
        crypto.cache.purge(subject_id)
        return True, None
    return True, crypto.unwrap(subject_id, row[0], bytes(row[1]))


def _create(session: Session, crypto: Crypto, ref: IdentityRef, now: dt.datetime) -> str:
    subject_id = new_subject_id()
    key, version, wrapped = crypto.new_data_key(subject_id)
    index_version = crypto.material.current_index  # read once: a key reload may happen meanwhile
    session.execute(_INSERT_SUBJECT, {"id": subject_id, "created_at": now})
    session.execute(
        _INSERT_KEY, {"sid": subject_id, "version": version, "wrapped": wrapped, "created_at": now}
    )
    session.execute(
        _INSERT_IDENTITY,
        {
            "sid": subject_id,
            "type": ref.type,
            "digest": crypto.blind_index(ref.type, ref.value, index_version),
            "index_version": index_version,
            "ct": seal(key, ref.value.encode(), field_aad(subject_id, "identities", ref.type)),
            "created_at": now,
        },
    )
    return subject_id


def get_or_create(session: Session, crypto: Crypto, ref: IdentityRef, now: dt.datetime) -> tuple[str, bool]:
    """(subject_id, created). Safe against a concurrent creator of the same identity.

    On SQLite the writer already holds the database write lock, so nobody can race; elsewhere
    the insert runs in a savepoint and a unique-index conflict re-reads the winner's subject.
    """
    ref = checked(session, ref)
    existing = resolve(session, crypto, ref)
    if existing is not None:
        return existing, False
    if session.get_bind().dialect.name == "sqlite":
        return _create(session, crypto, ref, now), True
    try:
        with session.begin_nested():
            return _create(session, crypto, ref, now), True
    except IntegrityError:
        existing = resolve(session, crypto, ref)
        if existing is None:
            raise
        return existing, False


def identities_of(session: Session, crypto: Crypto, subject_id: str) -> list[dict[str, str]]:
    """The subject's identities, decrypted; values read as the erased marker after a shred."""
    from consent_service.crypto.envelope import ERASED

    key = data_key(session, crypto, subject_id)
    out = []
    for row in session.scalars(
        select(Identity).where(Identity.subject_id == subject_id).order_by(Identity.id)
    ):
        value = ERASED
        if key is not None:
            try:
                value = open_sealed(key, row.value_ct, field_aad(subject_id, "identities", row.type)).decode()
            except DecryptionFailed:
                value = ERASED
        out.append({"type": row.type, "value": value})
    return out


def group_members(session: Session, root_id: str) -> list[str]:
    return list(session.scalars(select(Subject.id).where(Subject.root_id == root_id)))


def set_root(session: Session, old_root: str, new_root: str) -> None:
    """Point every member of ``old_root``'s group at ``new_root`` (projection of a link)."""
    session.execute(update(Subject).where(Subject.root_id == old_root).values(root_id=new_root))
