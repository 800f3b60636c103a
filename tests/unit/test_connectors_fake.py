"""The in-memory connector and the field actions shared by all connectors, plus the manual connector."""

from __future__ import annotations

import datetime as dt

import pytest

from consent_service.stores.connectors import ConnectorError, Deferred, connector_for
from consent_service.stores.connectors.base import HASH_PREFIX, keyed_hash
from consent_service.stores.connectors.fake import FakeConnector
from consent_service.stores.spec import parse_store
from tests.unit.store_examples import shop

SPEC = parse_store("shop", shop())


def fake() -> FakeConnector:
    return FakeConnector(
        SPEC,
        {
            "customers": [
                {"id": 1, "email": "anna@example.org", "name": "Anna"},
                {"id": 2, "email": "ben@example.org", "name": "Ben"},
            ],
            "orders": [
                {"id": 10, "customer_id": 1, "shipping_address": "Hauptstr. 1"},
                {"id": 11, "customer_id": 2, "shipping_address": "Ringweg 2"},
            ],
        },
        hash_key=b"k",
    )


def test_find_by_identity_and_reference() -> None:
    store = fake()
    assert [r["id"] for r in store.find("customers", "email", ["anna@example.org"])] == [1]
    assert [r["id"] for r in store.find("orders", "customer_id", [1, 2])] == [10, 11]
    assert store.find("customers", "email", []) == []
    with pytest.raises(ConnectorError):
        store.find("nope", "email", ["x"])


def test_field_actions_are_applied_and_idempotent() -> None:
    store = fake()
    rows = store.find("customers", "id", [1])
    actions = {"email": "mask", "name": "nullify"}
    first = store.erase("customers", rows, actions)
    assert (first.updated, first.deleted, first.status) == (1, 0, "done")
    assert store.data["customers"][0] == {"id": 1, "email": "[erased]", "name": None}
    again = store.erase("customers", rows, actions)
    assert again.changed == 0
    assert store.data["customers"][1]["name"] == "Ben", "other rows untouched"


def test_hash_is_keyed_and_not_applied_twice() -> None:
    store = fake()
    rows = store.find("customers", "id", [2])
    assert store.erase("customers", rows, {"email": "hash"}).updated == 1
    hashed = store.data["customers"][1]["email"]
    assert hashed == keyed_hash(b"k", "ben@example.org") and hashed.startswith(HASH_PREFIX)
    assert keyed_hash(b"other", "ben@example.org") != hashed
    assert store.erase("customers", rows, {"email": "hash"}).changed == 0


def test_row_delete_and_collection_plan() -> None:
    store = fake()
    rows = store.find("customers", "email", ["anna@example.org"])
    plan = SPEC.collections["customers"].erase_actions()
    assert store.erase("customers", rows, plan).deleted == 1
    assert store.erase("customers", rows, plan).changed == 0
    assert [r["id"] for r in store.data["customers"]] == [2]


def test_rectify_changes_only_what_differs() -> None:
    store = fake()
    rows = store.find("customers", "id", [1])
    assert store.rectify("customers", rows, {"name": "Anna Schmidt"}) == 1
    assert store.rectify("customers", rows, {"name": "Anna Schmidt"}) == 0
    assert store.data["customers"][0]["name"] == "Anna Schmidt"
    assert [c[0] for c in store.calls] == ["find", "rectify", "rectify"]


def test_check_reports_every_declared_column() -> None:
    checks = fake().check()
    assert all(c.ok for c in checks)
    assert {(c.collection, c.field) for c in checks} >= {
        ("customers", "email"),
        ("orders", "shipping_address"),
    }


def test_manual_connector_describes_a_task() -> None:
    doc = shop(type="manual", connection={"assignee": "dpo@example.org", "due_days": 3})
    doc["collections"]["customers"]["instructions"] = "Search the paper files in room 2."
    spec = parse_store("archive", doc)
    now = dt.datetime(2026, 1, 31, tzinfo=dt.UTC)
    connector = connector_for(spec, doc["connection"], clock=lambda: now)
    result = connector.erase("customers", [{"id": 1}], {})
    assert result.status == "pending" and result.task is not None
    assert result.task["instructions"] == "Search the paper files in room 2."
    assert result.task["due"] == "2026-02-03T00:00:00+00:00"
    assert result.task["assignee"] == "dpo@example.org"
    with pytest.raises(Deferred) as deferred:
        connector.find("customers", "email", ["anna@example.org"])
    assert deferred.value.status == "pending"
    assert all(c.ok for c in connector.check())
