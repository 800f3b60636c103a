"""Identity types: the four built-in kinds plus the ones an operator registers.

A registered type says how its values are normalised (case, trimming, an optional pattern the
normalised value must match) and whether a data subject may use it in a DSAR request. The
built-ins keep the normalisation of ``crypto.envelope.normalise_identity`` and cannot be changed.

The gate's hot path reads registered types from a per-process cache (``cached_rule``), reloaded
when a type is not found in it, so a type registered in another process is seen at its first
use. A registered type's normalisation cannot change while identities of it exist (their blind
indexes were computed under it), so a cached rule never normalises differently from the
database; only ``dsar_allowed`` can change then, and it is read from the database.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from consent_service.crypto.envelope import BUILT_IN_KINDS, normalise_identity
from consent_service.errors import Conflict, InvalidInput
from consent_service.subjects.models import Identity, IdentityType

if TYPE_CHECKING:
    from consent_service.context import Context

BUILT_IN = BUILT_IN_KINDS
CACHE = "identity_types"
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


def _unknown(kind: str, registered: dict[str, TypeRule]) -> UnknownIdentityType:
    known = ", ".join(BUILT_IN + tuple(sorted(registered)))
    return UnknownIdentityType(
        f"identity type {kind!r} is not known; known types are {known}",
        errors={"type": [f"one of {known}"]},
    )


BUILT_IN_RULES = {kind: TypeRule(kind, "keep", True, None, True, built_in=True) for kind in BUILT_IN}


def all_rules(session: Session) -> dict[str, TypeRule]:
    """Every known type's rule, built-in types first (for work that checks many values at once)."""
    return BUILT_IN_RULES | dict(sorted(_registered(session).items()))


def request_types(ctx: Context) -> tuple[str, ...]:
    """The types a data subject request may name: the built-in ones and those registered with
    ``dsar_allowed`` (the console's request forms offer these)."""
    with ctx.uow() as uow:
        return tuple(key for key, found in all_rules(uow.session).items() if found.dsar_allowed)


def rule(session: Session, kind: str) -> TypeRule:
    if kind in BUILT_IN:
        return BUILT_IN_RULES[kind]
    registered = _registered(session)
    found = registered.get(kind)
    if found is None:
        raise _unknown(kind, registered)
    return found


def cached_rule(ctx: Context, kind: str) -> TypeRule:
    """``rule`` from the per-process cache, reloaded once when ``kind`` is not in it."""
    if kind in BUILT_IN:
        return BUILT_IN_RULES[kind]
    registered: dict[str, TypeRule] | None = ctx.caches.get(CACHE)
    if registered is None or kind not in registered:
        with ctx.db.engine.connect() as conn:
            with Session(bind=conn) as session:
                registered = _registered(session)
        ctx.caches[CACHE] = registered
    found = registered.get(kind)
    if found is None:
        raise _unknown(kind, registered)
    return found


def canonical(ctx: Context, kind: str, value: str) -> str:
    """The value as its blind index is computed: a registered type's rule applied (cached)."""
    if kind in BUILT_IN:
        return value
    return apply(cached_rule(ctx, kind), value)


def normalise(session: Session, kind: str, value: str) -> str:
    """The normalised value of an identity, or UnknownIdentityType / InvalidIdentityValue."""
    found = rule(session, kind)
    if found.built_in:
        return normalise_identity(kind, value)
    return apply(found, value)


def stored_value(session: Session, kind: str, value: str) -> str:
    """What is sealed and indexed for an identity: built-in values as given (the index
    normalises them), a registered type's value normalised by its rule."""
    return value if kind in BUILT_IN else normalise(session, kind, value)


def apply(found: TypeRule, value: str) -> str:
    """A registered type's normalisation of ``value`` (InvalidIdentityValue when it does not fit)."""
    value = unicodedata.normalize("NFKC", value)
    if found.trim:
        value = value.strip()
    if found.case == "lower":
        value = value.lower()
    elif found.case == "upper":
        value = value.upper()
    if not value:
        raise InvalidIdentityValue(f"an identity of type {found.key!r} must not be empty")
    if found.pattern is not None and re.fullmatch(found.pattern, value) is None:
        raise InvalidIdentityValue(
            f"the value does not match the pattern of identity type {found.key!r}",
            errors={"value": [f"must match {found.pattern}"]},
        )
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
    elif (row.case, row.trim, row.pattern) != (case, trim, pattern) and _in_use(session, key):
        raise IdentityTypeRefused(
            f"identity type {key!r} is used by {_in_use(session, key)} identities: its normalisation "
            "(case, trim, pattern) cannot change, since their blind indexes were computed under it"
        )
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
    in_use = _in_use(session, key)
    if in_use:
        raise IdentityTypeRefused(f"identity type {key!r} is used by {in_use} identities")
    session.delete(row)
    session.flush()
    return True


def _in_use(session: Session, key: str) -> int:
    return int(
        session.execute(select(func.count()).select_from(Identity).where(Identity.type == key)).scalar() or 0
    )


def put_type(
    ctx: Context, key: str, *, case: str, trim: bool, pattern: str | None, dsar_allowed: bool
) -> tuple[dict[str, object], bool]:
    """Register or change a type (the API and any other caller): its description and whether it was new."""
    with ctx.uow() as uow:
        created = put(
            uow.session, key, case=case, trim=trim, pattern=pattern, dsar_allowed=dsar_allowed, now=ctx.now()
        )
        out = describe(rule(uow.session, key))
        uow.commit()
    ctx.caches.pop(CACHE, None)
    return out, created


def delete_type(ctx: Context, key: str) -> bool:
    with ctx.uow() as uow:
        removed = delete(uow.session, key)
        uow.commit()
    ctx.caches.pop(CACHE, None)
    return removed


def require_dsar_allowed(session: Session, kind: str) -> None:
    """A registered type that may not name a subject in a data subject request is a 422."""
    if not rule(session, kind).dsar_allowed:
        raise InvalidInput(
            f"identity type {kind!r} may not be used in a data subject request",
            errors={"identities": {"type": [f"{kind!r} is registered with dsar_allowed false"]}},
        )


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
