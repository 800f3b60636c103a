"""The SQL connector against real PostgreSQL (psycopg), MariaDB (PyMySQL) and an SQLite file.

Each backend gets its own tables (PostgreSQL: a fresh database; MariaDB: tables with a unique
prefix, dropped afterwards; SQLite: a file in tmp_path). The same tests run on all three.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from consent_service.stores.connectors import connector_for
from consent_service.stores.connectors.base import keyed_hash
from consent_service.stores.connectors.sql import SqlConnector
from consent_service.stores.spec import StoreSpec, parse_store
from tests.conftest import REQUIRE_SERVERS, server_url
from tests.unit.store_examples import SHOP

HASH_KEY = b"k" * 32


def make_tables(url: str, prefix: str) -> tuple[MetaData, Table, Table]:
    metadata = MetaData()
    customers = Table(
        f"{prefix}customers",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("email", String(200)),
        Column("name", String(200)),
    )
    orders = Table(
        f"{prefix}orders",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("customer_id", Integer),
        Column("shipping_address", String(200)),
    )
    engine = create_engine(url)
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(customers),
                [
                    {"id": 1, "email": "anna@example.org", "name": "Anna"},
                    {"id": 2, "email": "ben@example.org", "name": "Ben"},
                ],
            )
            conn.execute(
                insert(orders),
                [
                    {"id": 10, "customer_id": 1, "shipping_address": "Hauptstr. 1"},
                    {"id": 11, "customer_id": 1, "shipping_address": "Hauptstr. 1"},
                    {"id": 12, "customer_id": 2, "shipping_address": "Ringweg 2"},
                ],
            )
    finally:
        engine.dispose()
    return metadata, customers, orders


def reachable(url: str, name: str) -> None:
    engine = create_engine(url)
    try:
        with engine.connect():
            pass
    except Exception as exc:  # noqa: BLE001 - any failure means the server is not usable
        message = f"{name} at {url} cannot be reached: {exc}"
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres", "mariadb"])
def shop_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(URL, table prefix) of a shop database with two customers and three orders."""
    prefix = ""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
    elif request.param == "postgres":
        url = request.getfixturevalue("pg_empty_url")
    else:
        url = server_url("mariadb")
        reachable(url, "MariaDB")
        prefix = f"t_{uuid.uuid4().hex[:8]}_"
    metadata, _, _ = make_tables(url, prefix)
    yield url, prefix
    if request.param == "mariadb":
        engine = create_engine(url)
        metadata.drop_all(engine)
        engine.dispose()


def shop_spec(prefix: str, url: str) -> tuple[StoreSpec, dict[str, Any]]:
    doc = copy.deepcopy(SHOP)
    doc["connection"] = {"url": url}
    doc["collections"]["customers"]["table"] = f"{prefix}customers"
    doc["collections"]["orders"]["table"] = f"{prefix}orders"
    return parse_store("shop", doc), doc


@pytest.fixture
def connector(shop_db: tuple[str, str]) -> Iterator[SqlConnector]:
    url, prefix = shop_db
    spec, doc = shop_spec(prefix, url)
    made = connector_for(spec, doc["connection"], hash_key=HASH_KEY)
    assert isinstance(made, SqlConnector)
    yield made
    made.close()


def rows_of(connector: SqlConnector, collection: str) -> list[dict[str, Any]]:
    table = connector.table_for(collection)
    with connector.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(table).order_by(table.c.id))]


def test_check_finds_every_declared_table_and_column(connector: SqlConnector) -> None:
    checks = connector.check()
    assert all(c.ok for c in checks), checks
    assert {(c.collection, c.field) for c in checks} == {
        ("customers", None),
        ("customers", "id"),
        ("customers", "email"),
        ("customers", "name"),
        ("orders", None),
        ("orders", "id"),
        ("orders", "customer_id"),
        ("orders", "shipping_address"),
    }


def test_check_reports_missing_columns_and_tables(shop_db: tuple[str, str]) -> None:
    url, prefix = shop_db
    _, doc = shop_spec(prefix, url)
    doc["collections"]["customers"]["fields"]["phone"] = {
        "category": "user.contact.phone_number",
        "erase": "nullify",
    }
    doc["collections"]["orders"]["table"] = f"{prefix}no_such_table"
    connector = connector_for(parse_store("shop", doc), doc["connection"])
    try:
        failed = {(c.collection, c.field): c.problem for c in connector.check() if not c.ok}
    finally:
        connector.close()
    assert failed == {
        ("customers", "phone"): "no column phone",
        ("orders", None): f"no table {prefix}no_such_table",
    }


def test_an_unreachable_server_is_a_failed_check_not_an_exception() -> None:
    _, doc = shop_spec("", "postgresql+psycopg://nobody:pw@127.0.0.1:1/none")
    connector = connector_for(parse_store("shop", doc), doc["connection"])
    try:
        checks = connector.check()
    finally:
        connector.close()
    assert len(checks) == 1 and not checks[0].ok
    assert checks[0].problem and checks[0].problem.startswith("cannot connect")
    assert "pw" not in checks[0].problem


def test_find_by_identity_and_by_reference(connector: SqlConnector) -> None:
    anna = connector.find("customers", "email", ["anna@example.org"])
    assert anna == [{"id": 1, "email": "anna@example.org", "name": "Anna"}]
    assert [r["id"] for r in connector.find("customers", "id", [1, 2])] == [1, 2]
    orders = connector.find("orders", "customer_id", [1])
    assert sorted(r["id"] for r in orders) == [10, 11]
    assert connector.find("customers", "email", ["nobody@example.org"]) == []


def test_field_actions_erase_idempotently(connector: SqlConnector) -> None:
    anna = connector.find("customers", "email", ["anna@example.org"])
    actions = {"email": "mask", "name": "nullify"}
    first = connector.erase("customers", anna, actions)
    assert (first.updated, first.deleted) == (1, 0)
    after_first = rows_of(connector, "customers")
    assert after_first[0] == {"id": 1, "email": "[erased]", "name": None}
    assert after_first[1]["email"] == "ben@example.org", "only the subject's rows change"
    second = connector.erase("customers", anna, actions)
    assert second.changed == 0
    assert rows_of(connector, "customers") == after_first

    ben = connector.find("customers", "id", [2])
    assert connector.erase("customers", ben, {"email": "hash", "name": "keep"}).updated == 1
    assert rows_of(connector, "customers")[1] == {
        "id": 2,
        "email": keyed_hash(HASH_KEY, "ben@example.org"),
        "name": "Ben",
    }
    assert connector.erase("customers", ben, {"email": "hash"}).changed == 0


def test_erasing_a_held_collection_updates_fields_and_keeps_rows(connector: SqlConnector) -> None:
    orders = connector.find("orders", "customer_id", [1])
    plan = connector.spec.collections["orders"].erase_actions()
    assert connector.erase("orders", orders, plan).updated == 2
    assert connector.erase("orders", orders, plan).changed == 0
    assert [r["shipping_address"] for r in rows_of(connector, "orders")] == [None, None, "Ringweg 2"]


def test_row_delete_is_idempotent(connector: SqlConnector) -> None:
    anna = connector.find("customers", "email", ["anna@example.org"])
    plan = connector.spec.collections["customers"].erase_actions()
    assert plan == {"id": "delete"}
    assert connector.erase("customers", anna, plan).deleted == 1
    assert connector.erase("customers", anna, plan).changed == 0
    assert [r["id"] for r in rows_of(connector, "customers")] == [2]


def test_rectify_updates_only_rows_that_differ(connector: SqlConnector) -> None:
    anna = connector.find("customers", "id", [1])
    assert connector.rectify("customers", anna, {"name": "Anna Schmidt"}) == 1
    assert connector.rectify("customers", anna, {"name": "Anna Schmidt"}) == 0
    assert rows_of(connector, "customers")[0]["name"] == "Anna Schmidt"
