"""The retention sweeper on fake stores, without a database: the planned steps of field rules
delete or anonymise due records in batches, a second run finds nothing, a dry run changes
nothing, holds win, an unreachable store fails only its own steps, a missing trigger field
fails or does not apply, and a recorded run saves its report as each step ends.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from consent_service.context import Context
from consent_service.erasure.holds import ActiveHolds
from consent_service.retention.plan import plan
from consent_service.retention.recorder import Recorder
from consent_service.retention.rules import Rule
from consent_service.retention.sweeper import sweep_stores
from consent_service.stores.connectors.fake import FakeConnector
from consent_service.stores.spec import parse_store
from tests import fakes
from tests.unit.store_examples import shop as shop_doc

NOW = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)
LONG_AGO = NOW - dt.timedelta(days=3 * 365)
RECENTLY = NOW - dt.timedelta(days=30)

# Two stores of the same description: the shop and its copy in the CRM.
SPECS = {"shop": parse_store("shop", shop_doc()), "crm": parse_store("crm", shop_doc())}


def customers() -> list[dict[str, Any]]:
    old = [
        {"id": i, "email": f"c{i}@example.org", "name": f"C{i}", "last_login": LONG_AGO} for i in (1, 2, 3)
    ]
    return [*old, {"id": 4, "email": "new@example.org", "name": "New", "last_login": RECENTLY}]


def shop() -> FakeConnector:
    orders = [
        {"id": 10, "customer_id": 1, "shipping_address": "Hauptstr. 1", "created_at": LONG_AGO.isoformat()}
    ]
    return FakeConnector(SPECS["shop"], {"customers": customers(), "orders": orders})


def crm() -> FakeConnector:
    return FakeConnector(SPECS["crm"], {"customers": customers()})


def rule(action: str = "delete", field: str = "last_login", **scope: str) -> Rule:
    applies_to = scope or {"store": "shop", "collection": "customers"}
    trigger = {"type": "last_activity", "field": field}
    return Rule(f"{action}-{field}", 1, "", applies_to, "P2Y", trigger, action)


def run(
    ctx: Context,
    *rules: Rule,
    dry_run: bool = False,
    held: ActiveHolds | None = None,
    batch_size: int | None = 2,
) -> list[dict[str, Any]]:
    targets, _ = plan(None, list(rules), SPECS)
    recorder = Recorder(ctx, None, {"rules": []}, None, ctx.now())
    return sweep_stores(ctx, targets, held or ActiveHolds(), recorder, dry_run=dry_run, batch_size=batch_size)


@pytest.fixture
def stores() -> dict[str, FakeConnector]:
    return {"shop": shop(), "crm": crm()}


@pytest.fixture
def ctx(stores: dict[str, FakeConnector]) -> Context:
    return fakes.context(stores=stores, clock=fakes.FixedClock(NOW))


def test_a_field_rule_deletes_due_records_in_batches_and_a_second_run_finds_nothing(
    ctx: Context, stores: dict[str, FakeConnector]
) -> None:
    [entry] = run(ctx, rule())
    assert (entry["status"], entry["candidates"], entry["deleted"]) == ("done", 3, 3)
    assert entry["batches"] == 2 and entry["errors"] == []
    assert [r["id"] for r in stores["shop"].data["customers"]] == [4]
    [again] = run(ctx, rule())
    assert (again["candidates"], again["deleted"]) == (0, 0)


def test_anonymise_applies_the_fields_erase_actions_and_keeps_the_records(
    ctx: Context, stores: dict[str, FakeConnector]
) -> None:
    [entry] = run(ctx, rule("anonymise"))
    assert (entry["anonymised"], entry["deleted"]) == (3, 0)
    rows = stores["shop"].data["customers"]
    assert [(r["email"], r["name"]) for r in rows[:3]] == [("[erased]", None)] * 3
    assert rows[3]["name"] == "New"
    assert run(ctx, rule("anonymise"))[0]["anonymised"] == 0


def test_a_dry_run_counts_and_changes_nothing(ctx: Context, stores: dict[str, FakeConnector]) -> None:
    [entry] = run(ctx, rule(), dry_run=True)
    assert (entry["candidates"], entry["deleted"]) == (3, 0)
    assert stores["shop"].data["customers"] == customers()


def test_holds_win_a_described_hold_and_a_legal_hold_on_the_store(
    ctx: Context, stores: dict[str, FakeConnector]
) -> None:
    [described] = run(ctx, rule(field="created_at", store="shop", collection="orders"))
    assert described["status"] == "held" and described["held"] == 1
    assert described["held_by"][0]["reason"] == "Commercial and tax records are kept 10 years"
    hold = {
        "key": "audit",
        "scope": {"store": "shop"},
        "reason": "Tax audit",
        "ends_at": None,
        "purpose": None,
    }
    [legal] = run(ctx, rule(), held=ActiveHolds(holds=[hold]))
    assert (legal["status"], legal["held"], legal["held_by"][0]["key"]) == ("held", 3, "audit")
    assert len(stores["shop"].data["customers"]) == 4 and stores["shop"].data["orders"][0]["shipping_address"]


def test_an_unreachable_store_fails_its_steps_and_the_others_still_run(
    stores: dict[str, FakeConnector],
) -> None:
    ctx = fakes.context(
        stores={"shop": ConnectionRefusedError("connection refused"), "crm": stores["crm"]},
        clock=fakes.FixedClock(NOW),
    )
    entries = run(ctx, rule(), rule(store="crm", collection="customers"))
    by_store = {e["store"]: e for e in entries}
    assert by_store["shop"]["status"] == "failed"
    assert by_store["shop"]["errors"] == ["ConnectionRefusedError: connection refused"]
    assert by_store["crm"]["status"] == "done" and len(stores["crm"].data["customers"]) == 1


def test_a_missing_trigger_field_fails_a_collection_rule_and_does_not_apply_to_a_category_rule(
    ctx: Context,
) -> None:
    [named] = run(ctx, rule(field="closed_at"))
    assert named["status"] == "failed" and "the rule's trigger field" in named["errors"][0]
    [by_category] = run(ctx, rule(field="closed_at", store="shop", category="user.contact.email"))
    assert (by_category["collection"], by_category["status"]) == ("customers", "not_applicable")


def test_a_recorded_run_saves_its_report_as_each_step_ends(ctx: Context) -> None:
    report: dict[str, Any] = {"rules": []}
    ticks: list[tuple[str, int]] = []
    recorder = Recorder(ctx, "run-1", report, lambda step, _: ticks.append((step, len(report["rules"]))), NOW)
    targets, _ = plan(None, [rule(), rule(store="crm", collection="customers")], SPECS)
    sweep_stores(ctx, targets, ActiveHolds(), recorder, dry_run=False, batch_size=10)
    assert [e["store"] for e in report["rules"]] == ["shop", "crm"]
    assert {n for step, n in ticks if "crm." in step} == {1}, "the shop's entry is in the saved report"
    database = fakes.database(ctx)
    assert database.commits >= 2 and all(uow.write for uow in database.opened)
    assert all("retention_runs" in str(statement) for statement in database.session.executed)
