"""Executing requests against real stores: a shop on PostgreSQL (customers → orders →
order_items, a wishlist; orders are held for tax law), a newsletter table on MariaDB and a
session hash on Redis, reached from the shop's customer id across stores.

The service database is the embedded SQLite file of the ``ctx`` fixture; the stores are real.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
    text,
)

from consent_service.dsar import execution, package, request_views
from consent_service.dsar.request_views import show
from consent_service.dsar.requests import OpenRequest, open_request
from consent_service.errors import Conflict, Gone
from consent_service.ledger.queries import decide_one
from consent_service.stores.registry import save_store
from consent_service.subjects.service import IdentityRef
from tests.conftest import REQUIRE_SERVERS, server_url
from tests.integration.helpers import consent, session_store

ANNA, BEN = "anna@example.org", "ben@example.org"
HOLD = "Commercial and tax records are kept 10 years (HGB §257)"


def reachable(url: str, name: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - any failure means the server is not usable
        (pytest.fail if REQUIRE_SERVERS else pytest.skip)(f"{name} at {url} cannot be reached: {exc}")
    finally:
        engine.dispose()


def shop_tables(metadata: MetaData) -> dict[str, Table]:
    return {
        "customers": Table(
            "customers",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("email", String(200)),
            Column("name", String(200)),
        ),
        "orders": Table(
            "orders",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("customer_id", ForeignKey("customers.id")),
            Column("shipping_address", String(200)),
        ),
        "order_items": Table(
            "order_items",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("order_id", ForeignKey("orders.id")),
            Column("product", String(100)),
            Column("gift_message", String(200)),
        ),
        "wishlist": Table(
            "wishlist",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("customer_id", ForeignKey("customers.id")),
            Column("product", String(100)),
        ),
    }


@pytest.fixture
def shop_url(pg_empty_url: str) -> str:
    metadata = MetaData()
    tables = shop_tables(metadata)
    engine = create_engine(pg_empty_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(tables["customers"]),
            [{"id": 1, "email": ANNA, "name": "Anna"}, {"id": 2, "email": BEN, "name": "Ben"}],
        )
        conn.execute(
            insert(tables["orders"]),
            [
                {"id": 10, "customer_id": 1, "shipping_address": "Hauptstr. 1"},
                {"id": 20, "customer_id": 2, "shipping_address": "Ring 2"},
            ],
        )
        conn.execute(
            insert(tables["order_items"]),
            [
                {"id": 100, "order_id": 10, "product": "tea", "gift_message": "Happy birthday, Anna"},
                {"id": 200, "order_id": 20, "product": "mug", "gift_message": None},
            ],
        )
        conn.execute(
            insert(tables["wishlist"]),
            [{"id": 5, "customer_id": 1, "product": "kettle"}, {"id": 6, "customer_id": 2, "product": "cup"}],
        )
    engine.dispose()
    return pg_empty_url


@pytest.fixture
def newsletter() -> Iterator[tuple[str, str]]:
    url = server_url("mariadb")
    reachable(url, "MariaDB")
    table = f"t_{uuid.uuid4().hex[:8]}_newsletter"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, email VARCHAR(200), topics VARCHAR(200))")
        )
        conn.execute(text(f"INSERT INTO {table} VALUES (1, '{ANNA}', 'tea'), (2, '{BEN}', 'mugs')"))
    yield url, table
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    engine.dispose()


def register(
    ctx: Any,
    shop_url: str,
    newsletter: tuple[str, str],
    sessions: tuple[Any, str],
    mariadb_url: str | None = None,
) -> None:
    save_store(
        ctx,
        "shop",
        {
            "type": "sql",
            "description": "The web shop",
            "connection": {"url": shop_url},
            "collections": {
                "customers": {
                    "primary_key": "id",
                    "identities": {"email": "email"},
                    "erase": "update",
                    "fields": {
                        "email": {"category": "user.contact.email", "erase": "hash"},
                        "name": {"category": "user.name", "erase": "nullify"},
                    },
                },
                "orders": {
                    "primary_key": "id",
                    "references": {"customer_id": "customers.id"},
                    "erase": "update",
                    "hold": {"reason": HOLD, "basis": "legal_obligation"},
                    "fields": {
                        "customer_id": {"category": "user.unique_id"},
                        "shipping_address": {"category": "user.contact.address"},
                    },
                },
                "order_items": {
                    "primary_key": "id",
                    "references": {"order_id": "orders.id"},
                    "erase": "update",
                    "fields": {
                        "order_id": {"category": "user.unique_id"},
                        "product": {"category": "user.behavior.purchase_history"},
                        "gift_message": {"category": "user.content", "erase": "nullify"},
                    },
                },
                "wishlist": {
                    "primary_key": "id",
                    "references": {"customer_id": "customers.id"},
                    "erase": "delete",
                    "fields": {
                        "customer_id": {"category": "user.unique_id"},
                        "product": {"category": "user.behavior.purchase_history"},
                    },
                },
            },
        },
    )
    url, table = newsletter
    save_store(
        ctx,
        "mail",
        {
            "type": "sql",
            "connection": {"url": mariadb_url or url},
            "collections": {
                "newsletter": {
                    "table": table,
                    "primary_key": "id",
                    "identities": {"email": "email"},
                    "erase": "delete",
                    "fields": {
                        "email": {"category": "user.contact.email"},
                        "topics": {"category": "user.content"},
                    },
                }
            },
        },
    )
    _, prefix = sessions
    save_store(ctx, "cache", session_store(prefix, ip={"category": "user.device.ip_address"}))


def open_verified(ctx: Any, kind: str, email: str) -> str:
    cmd = OpenRequest(kind, [IdentityRef("email", email)], {"method": "dpo", "note": "passport seen"})
    return open_request(ctx, cmd, actor="dpo")["id"]


def rows(url: str, table: str) -> list[dict[str, Any]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id"))]
    engine.dispose()
    return out


def test_access_then_erasure_across_three_servers(
    ctx: Any, demo: Any, shop_url: str, newsletter: Any, sessions: Any
) -> None:
    register(ctx, shop_url, newsletter, sessions)
    subject_id = consent(
        ctx, identity=IdentityRef("email", ANNA), decisions=[("purpose", "analytics", True)]
    ).subject_id

    access = open_verified(ctx, "access", ANNA)
    result = execution.run_request(ctx, access, actor="dpo")
    assert result["request"]["state"] == "completed", result
    doc = package.read(ctx, access)
    assert doc["stores"]["shop"]["customers"] == [{"id": 1, "email": ANNA, "name": "Anna"}]
    assert [r["id"] for r in doc["stores"]["shop"]["order_items"]] == [100]
    assert doc["stores"]["mail"]["newsletter"] == [{"id": 1, "email": ANNA, "topics": "tea"}]
    assert doc["stores"]["cache"]["sessions"][0]["cart"] == "tea"
    html = package.read(ctx, access, "html")
    # the purposes that concern Anna: analytics (she decided on it), the newsletter (her e-mail
    # address was found); not essential operation (cookie ids only, none found)
    assert "Website analytics" in html and "consent (Art. 6(1)(a))" in html and "Newsletter" in html
    assert "Essential operation" not in html
    assert "analytics" in html and "granted" in html  # the consent history
    assert "text" not in package.read(ctx, access, "csv", "mail.newsletter")[:2]

    erasure = open_verified(ctx, "erasure", ANNA)
    result = execution.run_request(ctx, erasure, actor="dpo")
    assert result["request"]["state"] == "completed", result
    customers = rows(shop_url, "customers")
    assert customers[0]["email"].startswith("hmac:") and customers[0]["name"] is None
    assert customers[1] == {"id": 2, "email": BEN, "name": "Ben"}
    assert [o["shipping_address"] for o in rows(shop_url, "orders")] == ["Hauptstr. 1", "Ring 2"]  # held
    assert [i["gift_message"] for i in rows(shop_url, "order_items")] == [None, None]
    assert [w["id"] for w in rows(shop_url, "wishlist")] == [6]
    url, table = newsletter
    assert [r["id"] for r in rows(url, table)] == [2]
    client, prefix = sessions
    assert not client.exists(f"{prefix}:session:1") and client.exists(f"{prefix}:session:2")

    reports = {r["store"]: r["report"] for r in request_views.reports(ctx, erasure)}
    assert set(reports) == {"shop", "mail", "cache"}
    held = [c for c in reports["shop"]["collections"] if c["action"] == "hold"]
    assert held[0]["collection"] == "orders" and held[0]["hold"]["reason"] == HOLD
    assert ANNA not in str(reports) and "Anna" not in str(reports)
    assert decide_one(ctx, subject_id, "analytics").reason == "erased"
    with pytest.raises(Gone):
        package.read(ctx, access)

    before = (rows(shop_url, "customers"), rows(url, table))
    with pytest.raises(Conflict):
        execution.run_request(ctx, erasure, actor="dpo")
    assert (rows(shop_url, "customers"), rows(url, table)) == before
    assert show(ctx, erasure)["audit_trail_ok"]


def test_an_unreachable_store_fails_and_a_retry_completes(
    ctx: Any, shop_url: str, newsletter: Any, sessions: Any
) -> None:
    url, table = newsletter
    register(ctx, shop_url, newsletter, sessions, mariadb_url="mysql+pymysql://root@127.0.0.1:1/test")
    erasure = open_verified(ctx, "erasure", BEN)
    result = execution.run_request(ctx, erasure, actor="dpo")
    assert result["request"]["state"] == "failed"
    trail = show(ctx, erasure)["audit_trail"]
    assert any(e["action"] == "store_failed" and e["details"]["store"] == "mail" for e in trail)
    assert rows(shop_url, "customers")[1]["email"] == BEN  # nothing written before the failure

    register(ctx, shop_url, newsletter, sessions)
    result = execution.run_request(ctx, erasure, actor="dpo")
    assert result["request"]["state"] == "completed", result
    assert [r["id"] for r in rows(url, table)] == [1]
    assert rows(shop_url, "customers")[1]["name"] is None
    engine = create_engine(shop_url)
    with engine.connect() as conn:
        assert conn.execute(select(text("count(*)")).select_from(text("wishlist"))).scalar() == 1
    engine.dispose()
