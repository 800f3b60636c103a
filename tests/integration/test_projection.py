"""The current-state projection rebuilt from the ledger alone equals the live one.

A history with grants, denials, withdrawals, cookie decisions and chained subject links; then
``projection.rebuild`` must reproduce ``projection.snapshot`` exactly, both over the live state
and after the projection (``consent_state`` and subject roots) has been wiped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text

from consent_service.context import Context
from consent_service.demo import seed
from consent_service.ledger import projection
from consent_service.ledger.service import link_subjects
from consent_service.subjects.service import IdentityRef
from tests.integration.helpers import cli, consent, email, raw


def device(name: str) -> IdentityRef:
    return IdentityRef("device_id", f"dev-{name}")


def build_history(ctx: Context) -> dict[str, str]:
    seed(ctx)
    ids: dict[str, str] = {}

    def rec(who: str, ref: IdentityRef, *decisions: tuple[str, str, bool], channel: str = "api") -> None:
        ids[who] = consent(ctx, identity=ref, decisions=list(decisions), channel=channel).subject_id

    def link(source: str, target: str) -> None:
        result = link_subjects(ctx, ids[source], ids[target], actor_type="client", actor_id="cli_test")
        assert result["linked"]

    rec("ann", email("ann"), ("purpose", "analytics", True), ("purpose", "newsletter", True))
    rec("ann", email("ann"), ("purpose", "newsletter", False))  # withdrawn
    rec("ben", email("ben"), ("purpose", "analytics", False), ("purpose", "ads", True))  # denied
    rec(
        "d1",
        device("1"),
        ("cookie", "_ga", True),
        ("cookie", "_fbp", False),
        ("purpose", "analytics", True),
        channel="banner",
    )
    rec("d2", device("2"), ("purpose", "ads", False), ("cookie", "_ga", False), channel="banner")
    link("d1", "ann")
    rec("d1", device("1"), ("purpose", "analytics", False), channel="banner")  # withdrawn via group
    link("d2", "d1")  # d2 joins ann's group through d1
    rec("ben", email("ben"), ("purpose", "ads", False))  # withdrawn
    link("ben", "d2")  # ben's group merges into ann's
    rec("cid", email("cid"), ("purpose", "newsletter", True))
    link("ann", "cid")  # the whole group moves under cid
    rec("ann", email("ann"), ("purpose", "ads", True), ("cookie", "_fbp", True))
    rec("d2", device("2"), ("cookie", "_ga", True), channel="banner")
    return ids


def snapshot(ctx: Context) -> list[tuple[Any, ...]]:
    with ctx.uow(write=False) as uow:
        return projection.snapshot(uow.session)


def rebuild(ctx: Context) -> int:
    with ctx.uow() as uow:
        rows = projection.rebuild(uow.session)
        uow.commit()
    return rows


def wipe_projection(ctx: Context) -> None:
    with raw(ctx) as conn:
        conn.execute(text("DELETE FROM consent_state"))
        conn.execute(text("UPDATE subjects SET root_id = id"))


def check_history_is_rich(live: list[tuple[Any, ...]], ids: dict[str, str]) -> None:
    """The comparison means something only if the state holds every kind of fact."""
    states = [row for row in live if row[0] != "root"]
    decisions = {row[5] for row in states}
    assert decisions == {"granted", "denied", "withdrawn"}
    assert {row[1] for row in states} == {"purpose", "cookie"}
    roots = {row[1]: row[2] for row in live if row[0] == "root"}
    assert {roots[ids[who]] for who in ("ann", "ben", "d1", "d2", "cid")} == {ids["cid"]}


def test_rebuild_equals_the_live_projection(any_ctx: Context) -> None:
    ids = build_history(any_ctx)
    live = snapshot(any_ctx)
    check_history_is_rich(live, ids)
    assert rebuild(any_ctx) == len([row for row in live if row[0] != "root"])
    assert snapshot(any_ctx) == live


def test_rebuild_from_a_wiped_projection_equals_the_live_one(any_ctx: Context) -> None:
    ids = build_history(any_ctx)
    live = snapshot(any_ctx)
    check_history_is_rich(live, ids)
    wipe_projection(any_ctx)
    assert snapshot(any_ctx) != live
    rebuild(any_ctx)
    assert snapshot(any_ctx) == live


def test_cli_rebuild_state_on_sqlite(ctx: Context, tmp_path: Path) -> None:
    ids = build_history(ctx)
    live = snapshot(ctx)
    check_history_is_rich(live, ids)
    wipe_projection(ctx)
    result = cli(ctx, "ledger", "rebuild-state", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    rows = len([row for row in live if row[0] != "root"])
    assert f"rebuilt consent state: {rows} rows" in result.stdout
    assert snapshot(ctx) == live
