"""The identity type registry on SQLite and PostgreSQL: registration, normalisation, refusals."""

from __future__ import annotations

import pytest

from consent_service.context import Context
from consent_service.subjects import identity_types
from consent_service.subjects.identity_types import (
    BadIdentityType,
    IdentityTypeRefused,
    InvalidIdentityValue,
    UnknownIdentityType,
)
from consent_service.subjects.service import IdentityRef, get_or_create


def register(ctx: Context, key: str = "loyalty_no", **kw: object) -> None:
    options = {"case": "upper", "trim": True, "pattern": r"LY-\d{4}", "dsar_allowed": True} | kw
    with ctx.uow() as uow:
        identity_types.put(uow.session, key, now=ctx.now(), **options)  # type: ignore[arg-type]
        uow.commit()


def test_registered_type_is_known_and_normalised(any_ctx: Context) -> None:
    register(any_ctx)
    with any_ctx.uow(write=False) as uow:
        assert identity_types.known_types(uow.session) == (*identity_types.BUILT_IN, "loyalty_no")
        assert identity_types.normalise(uow.session, "loyalty_no", "  ly-1234 ") == "LY-1234"
        assert identity_types.normalise(uow.session, "email", " A@Example.ORG ") == "a@example.org"
        with pytest.raises(InvalidIdentityValue):
            identity_types.normalise(uow.session, "loyalty_no", "ly-12")


def test_keep_case_without_trim(any_ctx: Context) -> None:
    register(any_ctx, "ticket", case="keep", trim=False, pattern=None, dsar_allowed=False)
    with any_ctx.uow(write=False) as uow:
        assert identity_types.normalise(uow.session, "ticket", " AbC") == " AbC"
        assert identity_types.rule(uow.session, "ticket").dsar_allowed is False


def test_unknown_type_names_the_registered_ones(any_ctx: Context) -> None:
    register(any_ctx)
    with any_ctx.uow(write=False) as uow, pytest.raises(UnknownIdentityType, match="loyalty_no"):
        identity_types.normalise(uow.session, "passport", "X")


def test_update_changes_the_rule(any_ctx: Context) -> None:
    register(any_ctx)
    register(any_ctx, case="lower", pattern=None)
    with any_ctx.uow(write=False) as uow:
        assert identity_types.normalise(uow.session, "loyalty_no", "LY-9") == "ly-9"


@pytest.mark.parametrize(
    ("key", "options", "error"),
    [
        ("email", {}, IdentityTypeRefused),
        ("Bad-Key", {}, BadIdentityType),
        ("x", {}, BadIdentityType),
        ("member", {"case": "title"}, BadIdentityType),
        ("member", {"pattern": "("}, BadIdentityType),
    ],
)
def test_bad_writes_are_refused(
    any_ctx: Context, key: str, options: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        register(any_ctx, key, **options)
    with any_ctx.uow(write=False) as uow:
        assert identity_types.known_types(uow.session) == identity_types.BUILT_IN


def test_delete_is_refused_while_identities_use_the_type(any_ctx: Context) -> None:
    register(any_ctx)
    with any_ctx.uow() as uow:
        get_or_create(uow.session, any_ctx.crypto, IdentityRef("loyalty_no", "LY-1234"), any_ctx.now())
        uow.commit()
    with any_ctx.uow() as uow, pytest.raises(IdentityTypeRefused, match="used by 1"):
        identity_types.delete(uow.session, "loyalty_no")
    register(any_ctx, "unused_kind")
    with any_ctx.uow() as uow:
        assert identity_types.delete(uow.session, "unused_kind") is True
        assert identity_types.delete(uow.session, "unused_kind") is False
        uow.commit()
