"""Retention rules and legal holds as whole transactions, for the API, the CLI and tests.

Each writing function validates, writes and commits in one unit of work: on any error nothing
is written (a hold's audit entry lands with the hold or not at all). Reads use a read-only unit
of work. Time comes from the context's clock.
"""

from __future__ import annotations

from typing import Any

from consent_service.context import Context
from consent_service.erasure import holds
from consent_service.retention import rules


def save_rule(ctx: Context, key: str, doc: dict[str, Any], actor: str) -> tuple[dict[str, Any], str]:
    """Create, change or reactivate a rule; returns its view and the outcome (see ``rules.put_rule``)."""
    with ctx.uow() as uow:
        view, outcome = rules.put_rule(uow.session, key, doc, actor, ctx.now())
        uow.commit()
    return view, outcome


def retire_rule(ctx: Context, key: str) -> None:
    """Stop applying a rule; its versions are kept and a later save reactivates it."""
    with ctx.uow() as uow:
        rules.retire_rule(uow.session, key, ctx.now())
        uow.commit()


def read_rule(ctx: Context, key: str) -> dict[str, Any]:
    """One rule with every version it has had."""
    with ctx.uow(write=False) as uow:
        return rules.get_rule(uow.session, key)


def read_rules(ctx: Context, include_retired: bool = False) -> list[dict[str, Any]]:
    """The active rules (and the retired ones when asked), by key."""
    with ctx.uow(write=False) as uow:
        return rules.list_rules(uow.session, include_retired=include_retired)


def save_hold(ctx: Context, key: str, doc: dict[str, Any], actor: str) -> tuple[dict[str, Any], bool]:
    """Place a hold or change its reason or end, with its audit entry; returns (view, created)."""
    with ctx.uow() as uow:
        view, created = holds.put_hold(uow.session, key, doc, actor, ctx.now(), crypto=ctx.crypto)
        uow.commit()
    return view, created


def release_hold(ctx: Context, key: str, reason: str, actor: str) -> dict[str, Any]:
    """Release a hold with its audit entry; releasing a released hold changes nothing."""
    with ctx.uow() as uow:
        view = holds.release_hold(uow.session, key, reason, actor, ctx.now(), crypto=ctx.crypto)
        uow.commit()
    return view


def read_hold(ctx: Context, key: str) -> dict[str, Any]:
    with ctx.uow(write=False) as uow:
        return holds.opened(uow.session, ctx.crypto, holds.get_hold(uow.session, key, ctx.now()))


def read_holds(ctx: Context, active_only: bool = False) -> list[dict[str, Any]]:
    """Every hold by key, or only those in force now (not released, not ended)."""
    with ctx.uow(write=False) as uow:
        views = holds.list_holds(uow.session, ctx.now(), active_only=active_only)
        return [holds.opened(uow.session, ctx.crypto, view) for view in views]
