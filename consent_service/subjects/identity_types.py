"""Identity types: the four built-in kinds plus the ones an operator registers.

A registered type says how its values are normalised (case, trimming, an optional pattern the
normalised value must match) and whether a data subject may use it in a DSAR request. The
built-ins keep the normalisation of ``crypto.envelope.normalise_identity`` and cannot be changed.

Registered types are read from the database on each call (one small indexed read).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consent_service.crypto.envelope import normalise_identity
from consent_service.errors import Conflict, InvalidInput
from consent_service.subjects.models import Identity, IdentityType

BUILT_IN = ("email", "phone", "customer_id", "device_id")
KEY_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
CASES = ("lower", "upper", "keep")


class UnknownIdentityType(InvalidInput):
    """The type is neither built in nor registered."""


class InvalidIdentityValue(InvalidInput):
    """The value does not fit its registered type's pattern."""


class IdentityTypeRefused(Conflict):
    """A write the registry refuses: a built-in type, or a type identities still use."""


class BadIdentityType(InvalidInput):
    """A definition that cannot be stored: a bad key, case or pattern."""


@dataclass(frozen=True)
class TypeRule:
    key: str
    case: str
    trim: bool
    pattern: str | None
    dsar_allowed: bool
    built_in: bool = False


def _registered(session: Session) -> dict[str, TypeRule]:
    rows = session.execute(select(IdentityType)).scalars().all()
    return {row.key: TypeRule(row.key, row.case, row.trim, row.pattern, row.dsar_allowed) for row in rows}


def known_types(session: Session) -> tuple[str, ...]:
    """Built-in types first, then the registered ones in key order."""
    return BUILT_IN + tuple(sorted(_registered(session)))


def rule(session: Session, kind: str) -> TypeRule:
    if kind in BUILT_IN:
        return TypeRule(kind, "keep", True, None, True, built_in=True)
    found = _registered(session).get(kind)
    if found is None:
        raise UnknownIdentityType(
            f"identity type {kind!r} is not known; known types are {', '.join(known_types(session))}"
        )
    return found


def normalise(session: Session, kind: str, value: str) -> str:
    """The normalised value of an identity, or UnknownIdentityType / InvalidIdentityValue."""
    found = rule(session, kind)
    if found.built_in:
        return normalise_identity(kind, value)
    value = unicodedata.normalize("NFKC", value)
    if found.trim:
        value = value.strip()
    if found.case == "lower":
        value = value.lower()
    elif found.case == "upper":
        value = value.upper()
    if found.pattern is not None and re.fullmatch(found.pattern, value) is None:
        raise InvalidIdentityValue(f"value does not match the pattern of identity type {kind!r}")
    return value


def put(
    session: Session,
    key: str,
    *,
    case: str,
    trim: bool,
    pattern: str | None,
    dsar_allowed: bool,
    now: dt.datetime,
) -> bool:
    """Create or update a registered type; True when it was created."""
    if key in BUILT_IN:
        raise IdentityTypeRefused(f"identity type {key!r} is built in and cannot be changed")
    if KEY_PATTERN.fullmatch(key) is None:
        raise BadIdentityType(f"identity type key must match {KEY_PATTERN.pattern}")
    if case not in CASES:
        raise BadIdentityType(f"case must be one of {', '.join(CASES)}")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise BadIdentityType(f"pattern is not a valid regular expression: {exc}") from exc
    row = session.get(IdentityType, key)
    created = row is None
    if row is None:
        row = IdentityType(key=key, created_at=now)
        session.add(row)
    row.case, row.trim, row.pattern, row.dsar_allowed = case, trim, pattern, dsar_allowed
    row.updated_at = now
    session.flush()
    return created


def delete(session: Session, key: str) -> bool:
    """Remove a registered type; False when it was not registered. Refused while in use."""
    if key in BUILT_IN:
        raise IdentityTypeRefused(f"identity type {key!r} is built in and cannot be changed")
    row = session.get(IdentityType, key)
    if row is None:
        return False
    in_use = session.execute(select(func.count()).select_from(Identity).where(Identity.type == key)).scalar()
    if in_use:
        raise IdentityTypeRefused(f"identity type {key!r} is used by {in_use} identities")
    session.delete(row)
    session.flush()
    return True


def describe(found: TypeRule) -> dict[str, object]:
    return {
        "key": found.key,
        "case": found.case,
        "trim": found.trim,
        "pattern": found.pattern,
        "dsar_allowed": found.dsar_allowed,
        "built_in": found.built_in,
    }


def list_types(session: Session) -> list[dict[str, object]]:
    return [describe(rule(session, key)) for key in known_types(session)]
