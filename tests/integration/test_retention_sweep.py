"""The retention sweeper against real stores, with a fixed clock that the tests move.

The same shop (customers -> orders) runs on an SQLite file, a PostgreSQL database and MariaDB
tables; sessions live in Redis. Rules are written with the rules service, holds with the holds
service, and runs go through ``runs.run_now`` as the CLI and the worker call it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_py
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, create_engine, insert, select

from consent_service.auditlog.service import entries, verify
from consent_service.context import Context
from consent_service.erasure import holds
from consent_service.ledger.service import DecisionInput, RecordConsent, record_consent
from consent_service.retention import rules, runs, sweeper
from consent_service.stores.registry import save_store
from consent_service.subjects.service import IdentityRef
from tests.conftest import make_context, param_database, server_url
from tests.fakes import FixedClock

T0 = dt.datetime(2026, 1, 31, 12, 0, tzinfo=dt.UTC)


def at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 12, 0)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture(params=["sqlite", "postgres"])
def service(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Context]:
    """The service on SQLite or on PostgreSQL, with the fixed clock and the demo registry."""
    context = make_context(param_database(request, tmp_path), tmp_path, clock=clock)
    from consent_service.demo import seed

    seed(context)
    yield context
    context.db.dispose()


class Shop:
    def __init__(self, url: str, prefix: str) -> None:
        self.url, self.prefix = url, prefix
        self.metadata = MetaData()
        self.customers = Table(
            f"{prefix}customers",
            self.metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("email", String(200)),
            Column("name", String(200)),
            Column("last_login", DateTime),
        )
        self.orders = Table(
            f"{prefix}orders",
            self.metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("customer_id", Integer),
            Column("address", String(200)),
            Column("created_at", DateTime),
            Column("contract_end", DateTime),
        )
        self.engine = create_engine(url)
        self.metadata.create_all(self.engine)

    def fill(self, customers: list[dict[str, Any]], orders: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(self.customers), customers)
            conn.execute(insert(self.orders), orders)

    def rows(self, table: Table) -> dict[int, dict[str, Any]]:
        with self.engine.connect() as conn:
            return {r.id: dict(r._mapping) for r in conn.execute(select(table))}

    def spec(self) -> dict[str, Any]:
        return {
            "type": "sql",
            "connection": {"url": self.url},
            "collections": {
                "customers": {
                    "table": f"{self.prefix}customers",
                    "primary_key": "id",
                    "identities": {"email": "email"},
                    "erase": "update",
                    "fields": {
                        "email": {"category": "user.contact.email", "erase": "mask"},
                        "name": {"category": "user.name", "erase": "nullify"},
                    },
                },
                "orders": {
                    "table": f"{self.prefix}orders",
                    "primary_key": "id",
                    "references": {"customer_id": "customers.id"},
                    "erase": "delete",
                    "fields": {
                        "customer_id": {"category": "user.unique_id", "erase": "keep"},
                        "address": {"category": "user.contact.address", "erase": "nullify"},
                    },
                },
            },
        }

    def drop(self) -> None:
        self.metadata.drop_all(self.engine)
        self.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    if request.param == "sqlite":
        store = Shop(f"sqlite:///{tmp_path / 'shop.db'}", "")
    elif request.param == "postgres":
        store = Shop(request.getfixturevalue("pg_empty_url"), "")
    else:
        store = Shop(server_url("mariadb"), f"r{uuid.uuid4().hex[:8]}_")
    yield store
    store.drop()


def subject_for(ctx: Context, email: str, granted: bool = True) -> str:
    recorded = record_consent(
        ctx,
        RecordConsent(
            decisions=[DecisionInput("purpose", "newsletter", granted)],
            channel="web_form",
            method="custom",
            actor_type="client",
            actor_id="test",
            subject=IdentityRef("email", email),
            proof={"ip": "203.0.113.7", "url": "https://shop.example/"},
        ),
    )
    return recorded.subject_id


def put_rule(ctx: Context, key: str, doc: dict[str, Any]) -> dict[str, Any]:
    with ctx.uow() as uow:
        view, _ = rules.put_rule(uow.session, key, doc, "test", ctx.now())
        uow.commit()
    return view


def put_hold(ctx: Context, key: str, scope: dict[str, str], reason: str) -> None:
    with ctx.uow() as uow:
        holds.put_hold(
            uow.session,
            key,
            {"scope": scope, "reason": reason, "ends_at": None},
            "test",
            ctx.now(),
            crypto=ctx.crypto,
        )
        uow.commit()


def release(ctx: Context, key: str) -> None:
    with ctx.uow() as uow:
        holds.release_hold(uow.session, key, "case closed", "test", ctx.now(), crypto=ctx.crypto)
        uow.commit()


def entry_for(report: dict[str, Any], rule: str, collection: str) -> dict[str, Any]:
    found = [e for e in report["rules"] if e["rule"] == rule and e["collection"] == collection]
    assert len(found) == 1, report["rules"]
    return found[0]


SHOP_RULES = {
    "orders-2y": {
        "description": "Orders are deleted two years after they were placed",
        "applies_to": {"store": "shop", "collection": "orders"},
        "period": "P2Y",
        "trigger": {"type": "since_field", "field": "created_at"},
        "action": "delete",
    },
    "inactive-customers": {
        "applies_to": {"store": "shop", "collection": "customers"},
        "period": "P1Y",
        "trigger": {"type": "last_activity", "field": "last_login"},
        "action": "anonymise",
    },
}


def fill_shop(shop: Shop) -> None:
    shop.fill(
        [
            {"id": 1, "email": "anna@example.org", "name": "Anna", "last_login": at(2024, 6, 1)},
            {"id": 2, "email": "ben@example.org", "name": "Ben", "last_login": at(2024, 5, 1)},
            {"id": 3, "email": "cara@example.org", "name": "Cara", "last_login": at(2026, 1, 1)},
        ],
        [
            {"id": 10, "customer_id": 1, "address": "Hauptstr. 1", "created_at": at(2022, 1, 1)},
            {"id": 11, "customer_id": 2, "address": "Ringweg 2", "created_at": at(2022, 2, 1)},
            {"id": 12, "customer_id": 2, "address": "Ringweg 2", "created_at": at(2025, 6, 1)},
            {"id": 13, "customer_id": 3, "address": "Am Hang 3", "created_at": at(2023, 1, 1)},
        ],
    )


def test_time_travel_sweep_with_a_held_subject(service: Context, shop: Shop, clock: FixedClock) -> None:
    fill_shop(shop)
    save_store(service, "shop", shop.spec())
    anna = subject_for(service, "anna@example.org")
    for key, doc in SHOP_RULES.items():
        put_rule(service, key, doc)
    put_hold(service, "anna-dispute", {"subject": anna}, "payment dispute, court case 4 O 12/26")

    preview = sweeper.preview(service)
    orders, customers = (
        entry_for(preview, "orders-2y", "orders"),
        entry_for(preview, "inactive-customers", "customers"),
    )
    assert (orders["candidates"], orders["held"]) == (3, 1)  # 10 (held), 11, 13
    assert (customers["candidates"], customers["held"]) == (2, 1)  # anna (held), ben
    assert len(shop.rows(shop.orders)) == 4  # a preview changes nothing

    run = runs.run_now(service, dry_run=False, store=None, started_by="test")
    assert run["state"] == "completed"
    report = run["report"]
    orders, customers = (
        entry_for(report, "orders-2y", "orders"),
        entry_for(report, "inactive-customers", "customers"),
    )
    assert (orders["deleted"], orders["held"], orders["errors"]) == (2, 1, [])
    assert (customers["anonymised"], customers["held"]) == (1, 1)
    # A subject hold's reason is sealed under the subject's key: reports point to the hold.
    assert orders["held_by"][0]["reason"] == holds.SEALED_IN_REPORT
    assert set(shop.rows(shop.orders)) == {10, 12}
    people = shop.rows(shop.customers)
    assert (people[2]["email"], people[2]["name"]) == ("[erased]", None)
    assert (people[1]["email"], people[1]["name"]) == ("anna@example.org", "Anna")
    assert people[3]["name"] == "Cara"
    assert orders["longest_transaction_ms"] > 0

    # the report is in the tamper-evident log, and the run points at its entry
    shown = runs.get_run(service, run["id"])
    assert shown["log"]["seq"] == run["audit_seq"] and shown["log"]["hash"]
    with service.uow(write=False) as uow:
        assert verify(uow.session, "retention").ok
        logged = entries(uow.session, "retention")
    assert logged[-1]["action"] == "run_completed"
    assert logged[-1]["details"]["report"]["totals"]["deleted"] == 2

    # idempotent: a second run finds only what is held
    again = runs.run_now(service, dry_run=False, store=None, started_by="test")["report"]
    assert again["totals"]["deleted"] == again["totals"]["anonymised"] == 0
    assert again["totals"]["held"] == 2

    # the hold is released: its data goes on the next run
    release(service, "anna-dispute")
    third = runs.run_now(service, dry_run=False, store=None, started_by="test")["report"]
    assert entry_for(third, "orders-2y", "orders")["deleted"] == 1
    assert entry_for(third, "inactive-customers", "customers")["anonymised"] == 1
    assert set(shop.rows(shop.orders)) == {12}

    # two years on, order 12 is due as well
    clock.advance(days=2 * 366)
    runs.run_now(service, dry_run=False, store=None, started_by="test")
    assert shop.rows(shop.orders) == {}


def test_a_held_collection_is_not_touched_and_the_report_says_why(service: Context, shop: Shop) -> None:
    fill_shop(shop)
    save_store(service, "shop", shop.spec())
    put_rule(service, "orders-2y", SHOP_RULES["orders-2y"])
    put_hold(service, "tax-audit", {"store": "shop", "collection": "orders"}, "tax audit 2026")

    report = runs.run_now(service, dry_run=False, store="shop", started_by="test")["report"]
    entry = entry_for(report, "orders-2y", "orders")
    assert entry["status"] == "held"
    assert (entry["candidates"], entry["held"], entry["deleted"]) == (3, 3, 0)
    assert entry["held_by"][0]["key"] == "tax-audit"
    assert len(shop.rows(shop.orders)) == 4
    assert "service" not in report  # a run limited to one store leaves the service's data alone


def test_a_rule_change_makes_a_new_version_and_runs_use_it(service: Context, shop: Shop) -> None:
    fill_shop(shop)
    save_store(service, "shop", shop.spec())
    first = put_rule(service, "orders", SHOP_RULES["orders-2y"])
    same = put_rule(service, "orders", dict(SHOP_RULES["orders-2y"]))
    assert first["version"] == same["version"] == 1
    changed = put_rule(service, "orders", SHOP_RULES["orders-2y"] | {"period": "P4Y"})
    assert changed["version"] == 2
    with service.uow(write=False) as uow:
        versions = rules.get_rule(uow.session, "orders")["versions"]
    assert [(v["version"], v["period"]) for v in versions] == [(1, "P2Y"), (2, "P4Y")]

    report = runs.run_now(service, dry_run=False, store=None, started_by="test")["report"]
    entry = entry_for(report, "orders", "orders")
    assert (entry["version"], entry["deleted"]) == (2, 1)  # four years back from 2026-01-31: order 10 only
    assert set(shop.rows(shop.orders)) == {11, 12, 13}


def test_contract_end_never_touches_running_contracts(service: Context, tmp_path: Path) -> None:
    shop = Shop(f"sqlite:///{tmp_path / 'contracts.db'}", "")
    shop.fill(
        [{"id": 1, "email": "anna@example.org", "name": "Anna", "last_login": None}],
        [
            {"id": 1, "customer_id": 1, "address": "A", "created_at": at(2020, 1, 1), "contract_end": None},
            {
                "id": 2,
                "customer_id": 1,
                "address": "B",
                "created_at": at(2020, 1, 1),
                "contract_end": at(2025, 1, 1),
            },
            {
                "id": 3,
                "customer_id": 1,
                "address": "C",
                "created_at": at(2020, 1, 1),
                "contract_end": at(2025, 12, 1),
            },
        ],
    )
    save_store(service, "shop", shop.spec())
    put_rule(
        service,
        "contracts",
        {
            "applies_to": {"category": "user.contact.address"},
            "period": "P6M",
            "trigger": {"type": "contract_end", "field": "contract_end"},
            "action": "anonymise",
        },
    )
    report = runs.run_now(service, dry_run=False, store=None, started_by="test")["report"]
    entry = entry_for(report, "contracts", "orders")
    assert entry["anonymised"] == 1
    assert {k: r["address"] for k, r in shop.rows(shop.orders).items()} == {1: "A", 2: None, 3: "C"}
    # the category-scoped rule reached only the collection holding that category
    assert [e["collection"] for e in report["rules"]] == ["orders"]
    shop.drop()


def test_a_crash_mid_sweep_then_a_rerun_reaches_the_same_end(service: Context, tmp_path: Path) -> None:
    shop = Shop(f"sqlite:///{tmp_path / 'big.db'}", "")
    shop.fill(
        [{"id": 1, "email": "anna@example.org", "name": "Anna", "last_login": None}],
        [
            {"id": n, "customer_id": 1 if n % 10 == 0 else 2, "address": "x", "created_at": at(2021, 1, 1)}
            for n in range(1, 51)
        ],
    )
    save_store(service, "shop", shop.spec())
    anna = subject_for(service, "anna@example.org")
    put_hold(service, "anna", {"subject": anna}, "litigation")
    put_rule(service, "orders-2y", SHOP_RULES["orders-2y"])

    batches = []

    def crash(step: str, entry: dict[str, Any]) -> None:
        if step.startswith("orders-2y"):
            batches.append(entry["deleted"])
            if len(batches) == 3:
                raise SystemExit("killed")  # not an Exception: nothing in the sweeper catches it

    with pytest.raises(SystemExit):
        runs.run_now(service, dry_run=False, store=None, started_by="test", progress=crash, batch_size=5)
    assert len(shop.rows(shop.orders)) == 50 - 15  # three whole batches, nothing half done
    assert runs.list_runs(service)[0]["state"] == "running"  # as a killed process leaves it
    rerun = runs.run_now(service, dry_run=False, store=None, started_by="test", batch_size=5)
    entry = entry_for(rerun["report"], "orders-2y", "orders")
    assert entry["deleted"] == 45 - 15 and entry["held"] == 5
    remaining = shop.rows(shop.orders)
    assert set(remaining) == {10, 20, 30, 40, 50}  # anna's held orders, and nothing else
    listed = runs.list_runs(service)
    assert sorted(r["state"] for r in listed) == ["completed", "interrupted"]  # same clock time
    with service.uow(write=False) as uow:
        assert [e["action"] for e in entries(uow.session, "retention")] == [
            "run_interrupted",
            "run_completed",
        ]
    shop.drop()


def test_consent_ended_removes_records_of_subjects_whose_consent_ended(
    service: Context, shop: Shop, clock: FixedClock
) -> None:
    fill_shop(shop)
    save_store(service, "shop", shop.spec())
    subject_for(service, "anna@example.org")  # consent stays granted (valid 12 months)
    subject_for(service, "ben@example.org")
    clock.advance(days=1)
    subject_for(service, "ben@example.org", granted=False)  # withdrawn
    put_rule(
        service,
        "after-newsletter",
        {
            "applies_to": {"store": "shop", "collection": "customers"},
            "period": "P1Y",
            "trigger": {"type": "consent_ended", "purpose": "newsletter"},
            "action": "anonymise",
        },
    )
    clock.advance(days=200)
    assert entry_for(sweeper.preview(service), "after-newsletter", "customers")["candidates"] == 0
    clock.advance(days=200)  # ben's withdrawal is over a year old; anna's consent still runs
    report = runs.run_now(service, dry_run=False, store=None, started_by="test")["report"]
    entry = entry_for(report, "after-newsletter", "customers")
    assert (entry["subjects"], entry["anonymised"]) == (1, 1)
    people = shop.rows(shop.customers)
    assert people[2]["email"] == "[erased]" and people[1]["email"] == "anna@example.org"


@pytest.fixture
def sessions() -> Iterator[tuple[redis_py.Redis, str]]:
    client = redis_py.Redis.from_url(server_url("redis"), decode_responses=True)
    prefix = f"t{uuid.uuid4().hex[:8]}"
    yield client, prefix
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


def test_redis_sessions_expire_after_last_activity_except_held_ones(
    service: Context, sessions: tuple[redis_py.Redis, str]
) -> None:
    client, prefix = sessions
    stale, fresh = T0 - dt.timedelta(days=45), T0 - dt.timedelta(days=5)
    client.hset(f"{prefix}:session:anna@example.org", mapping={"cart": "3", "last_seen": stale.isoformat()})
    client.hset(
        f"{prefix}:session:ben@example.org", mapping={"cart": "1", "last_seen": str(stale.timestamp())}
    )
    client.hset(f"{prefix}:session:cara@example.org", mapping={"cart": "2", "last_seen": fresh.isoformat()})
    client.hset(f"{prefix}:session:dan@example.org", mapping={"cart": "2", "last_seen": "not a time"})
    save_store(
        service,
        "sessions",
        {
            "type": "redis",
            "connection": {"url": server_url("redis")},
            "collections": {
                "sessions": {
                    "pattern": f"{prefix}:session:{{email}}",
                    "identities": {"email": "email"},
                    "erase": "delete",
                    "fields": {"cart": {"category": "user.behavior.purchase_history", "erase": "nullify"}},
                }
            },
        },
    )
    anna = subject_for(service, "anna@example.org")
    put_hold(service, "anna", {"subject": anna}, "fraud investigation")
    put_rule(
        service,
        "sessions-30d",
        {
            "applies_to": {"store": "sessions"},
            "period": "P30D",
            "trigger": {"type": "last_activity", "field": "last_seen"},
            "action": "delete",
        },
    )
    report = runs.run_now(service, dry_run=False, store="sessions", started_by="test")["report"]
    entry = entry_for(report, "sessions-30d", "sessions")
    assert (entry["deleted"], entry["held"]) == (1, 1)
    left = sorted(k.split(":")[-1] for k in client.scan_iter(match=f"{prefix}:session:*"))
    assert left == ["anna@example.org", "cara@example.org", "dan@example.org"]
    again = runs.run_now(service, dry_run=False, store="sessions", started_by="test")["report"]
    assert entry_for(again, "sessions-30d", "sessions")["deleted"] == 0


def test_a_category_rule_skips_collections_without_its_trigger_field(
    service: Context, tmp_path: Path
) -> None:
    shop = Shop(f"sqlite:///{tmp_path / 'category.db'}", "")
    fill_shop(shop)
    save_store(service, "shop", shop.spec())
    put_rule(
        service,
        "contact-data",
        {
            "applies_to": {"category": "user.contact"},
            "period": "P1Y",
            "trigger": {"type": "last_activity", "field": "last_login"},
            "action": "anonymise",
        },
    )
    report = runs.run_now(service, dry_run=False, store=None, started_by="test")["report"]
    customers, orders = (
        entry_for(report, "contact-data", "customers"),
        entry_for(report, "contact-data", "orders"),
    )
    assert customers["status"] == "done" and customers["anonymised"] == 2  # anna and ben: email only
    assert orders["status"] == "not_applicable" and "last_login" in orders["note"]
    assert report["totals"]["errors"] == 0
    people = shop.rows(shop.customers)
    assert (people[2]["email"], people[2]["name"]) == ("[erased]", "Ben")  # user.name is not user.contact
    shop.drop()
