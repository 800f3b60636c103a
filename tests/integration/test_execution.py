"""Executing requests with fake connectors: traversal order, holds, children before parents,
failure then retry, deferred stores, the access package and re-runs without double effects.

The request lifecycle needs the service database (an embedded SQLite file from the ``ctx``
fixture), so these are integration tests; every store is a ``FakeConnector``, so no store
server is involved.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import pytest

from consent_service.dsar import execution, package, request_views
from consent_service.dsar.request_views import show
from consent_service.dsar.requests import OpenRequest, open_request
from consent_service.errors import Conflict, Gone
from consent_service.stores.connectors.base import Connector, EraseResult
from consent_service.stores.connectors.fake import FakeConnector
from consent_service.stores.connectors.manual import ManualConnector
from consent_service.stores.registry import save_store
from consent_service.stores.spec import parse_store
from consent_service.stores.traversal import traverse
from consent_service.subjects.service import IdentityRef

SHOP: dict[str, Any] = {
    "type": "sql",
    "connection": {"url": "sqlite:///unused.db"},
    "collections": {
        "order_items": {
            "primary_key": "id",
            "references": {"order_id": "orders.id"},
            "erase": "delete",
            "fields": {
                "order_id": {"category": "user.unique_id"},
                "product": {"category": "user.behavior.purchase_history"},
            },
        },
        "orders": {
            "primary_key": "id",
            "references": {"customer_id": "customers.id"},
            "erase": "update",
            "hold": {"reason": "Tax records are kept 10 years", "basis": "legal_obligation"},
            "fields": {
                "customer_id": {"category": "user.unique_id"},
                "address": {"category": "user.contact.address", "erase": "nullify"},
            },
        },
        "customers": {
            "primary_key": "id",
            "identities": {"email": "email"},
            "erase": "delete",
            "fields": {"email": {"category": "user.contact.email"}, "name": {"category": "user.name"}},
        },
    },
}
CRM: dict[str, Any] = {
    "type": "sql",
    "connection": {"url": "sqlite:///unused2.db"},
    "collections": {
        "notes": {
            "primary_key": "id",
            "references": {"customer_id": "shop.customers.id"},
            "erase": "update",
            "fields": {
                "customer_id": {"category": "user.unique_id"},
                "text": {"category": "user.content", "erase": "mask"},
            },
        }
    },
}
SHOP_ROWS = {
    "customers": [
        {"id": 1, "email": "anna@example.org", "name": "Anna"},
        {"id": 2, "email": "b@x.org", "name": "B"},
    ],
    "orders": [
        {"id": 10, "customer_id": 1, "address": "Hauptstr. 1"},
        {"id": 20, "customer_id": 2, "address": "R"},
    ],
    "order_items": [
        {"id": 100, "order_id": 10, "product": "tea"},
        {"id": 200, "order_id": 20, "product": "x"},
    ],
}
CRM_ROWS = {
    "notes": [{"id": 7, "customer_id": 1, "text": "called"}, {"id": 8, "customer_id": 2, "text": "ok"}]
}


class Flaky(FakeConnector):
    """A fake whose ``erase`` raises while ``broken`` is set."""

    broken = False

    def erase(
        self, collection: str, rows: Sequence[dict[str, Any]], actions: Mapping[str, str]
    ) -> EraseResult:
        if self.broken:
            raise ConnectionRefusedError("connection refused")
        return super().erase(collection, rows, actions)


class Fakes:
    def __init__(self, ctx: Any) -> None:
        save_store(ctx, "shop", copy.deepcopy(SHOP))
        save_store(ctx, "crm", copy.deepcopy(CRM))
        self.shop = FakeConnector(parse_store("shop", SHOP), SHOP_ROWS)
        self.crm = Flaky(parse_store("crm", CRM), CRM_ROWS)
        self.stores: dict[str, Connector] = {"shop": self.shop, "crm": self.crm}

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[Connector]:
        yield self.stores[key]


@pytest.fixture
def fakes(ctx: Any) -> Fakes:
    return Fakes(ctx)


def open_verified(ctx: Any, kind: str, **extra: Any) -> str:
    cmd = OpenRequest(
        kind, [IdentityRef("email", "anna@example.org")], {"method": "dpo", "note": "ID checked"}, **extra
    )
    return open_request(ctx, cmd, actor="dpo")["id"]


def actions(request: dict[str, Any]) -> list[str]:
    return [e["action"] for e in request["audit_trail"]]


def test_traversal_reaches_children_and_other_stores_parents_first(fakes: Fakes) -> None:
    found = traverse(fakes.stores, {"email": ["anna@example.org"]})
    order = found.order
    assert set(order) == {
        ("shop", "customers"),
        ("shop", "orders"),
        ("shop", "order_items"),
        ("crm", "notes"),
    }
    assert (
        order.index(("shop", "customers"))
        < order.index(("shop", "orders"))
        < order.index(("shop", "order_items"))
    )
    assert order.index(("shop", "customers")) < order.index(("crm", "notes"))
    assert [r["id"] for r in found.rows[("shop", "order_items")]] == [100]
    assert [r["id"] for r in found.rows[("crm", "notes")]] == [7]


def test_erasure_children_first_keeps_holds_and_shreds(ctx: Any, fakes: Fakes) -> None:
    request_id = open_verified(ctx, "erasure")
    result = execution.run_request(ctx, request_id, actor="dpo", opener=fakes.open)
    assert result["request"]["state"] == "completed"
    erased = [c for kind, c in fakes.shop.calls if kind == "erase"]
    assert erased == ["order_items", "customers"]  # orders are held: never touched
    assert [r["id"] for r in fakes.shop.data["customers"]] == [2]
    assert [r["id"] for r in fakes.shop.data["order_items"]] == [200]
    assert fakes.shop.data["orders"][0]["address"] == "Hauptstr. 1"
    assert fakes.crm.data["notes"][0]["text"] == "[erased]" and fakes.crm.data["notes"][1]["text"] == "ok"
    reports = {r["store"]: r["report"] for r in request_views.reports(ctx, request_id)}
    held = [c for c in reports["shop"]["collections"] if c["action"] == "hold"]
    assert held == [held[0]] and held[0]["hold"]["reason"] == "Tax records are kept 10 years"
    assert "anna" not in str(reports)
    detail = show(ctx, request_id)
    assert detail["identities"] == "[erased]"  # the subject was crypto-shredded
    assert actions(detail).count("store_completed") == 2
    with pytest.raises(Conflict):
        execution.run_request(ctx, request_id, actor="dpo", opener=fakes.open)


def test_without_an_opener_the_request_opens_stores_through_the_context(ctx: Any, fakes: Fakes) -> None:
    ctx.store_opener = fakes.open  # the one connector factory: no opener passed to run_request
    request_id = open_verified(ctx, "erasure")
    assert execution.run_request(ctx, request_id, actor="dpo")["request"]["state"] == "completed"
    assert [r["id"] for r in fakes.shop.data["customers"]] == [2]


def test_a_failing_store_fails_the_request_and_a_retry_resumes(ctx: Any, fakes: Fakes) -> None:
    request_id = open_verified(ctx, "erasure")
    fakes.crm.broken = True
    result = execution.run_request(ctx, request_id, actor="dpo", opener=fakes.open)
    assert result["request"]["state"] == "failed"
    assert result["stores"]["crm"]["status"] == "failed"
    failed = [e for e in show(ctx, request_id)["audit_trail"] if e["action"] == "store_failed"]
    assert "connection refused" in failed[0]["details"]["error"]
    fakes.crm.broken = False
    shop_calls = len(fakes.shop.calls)
    again = execution.run_request(ctx, request_id, actor="dpo", opener=fakes.open)
    assert again["request"]["state"] == "completed"
    deleted = 4 - len(fakes.shop.data["customers"]) - len(fakes.shop.data["order_items"])
    assert deleted == 2 and fakes.crm.data["notes"][0]["text"] == "[erased]"
    if again["stores"]["shop"].get("skipped"):
        assert len(fakes.shop.calls) == shop_calls  # done in the first run: not touched again


def test_a_manual_store_leaves_the_request_in_progress_with_a_task(ctx: Any, fakes: Fakes) -> None:
    doc = {
        "type": "manual",
        "connection": {"assignee": "archive@example.org"},
        "collections": {
            "paper": {
                "identities": {"email": "email"},
                "instructions": "Shred the forms",
                "fields": {"email": {"category": "user.contact.email"}},
            }
        },
    }
    save_store(ctx, "archive", doc)
    fakes.stores["archive"] = ManualConnector(parse_store("archive", doc))
    request_id = open_verified(ctx, "erasure")
    result = execution.run_request(ctx, request_id, actor="dpo", opener=fakes.open)
    assert result["request"]["state"] == "in_progress" and result["pending"] == ["archive"]
    task = result["stores"]["archive"]["task"]
    assert task["instructions"] == "Shred the forms" and "values" not in task
    pending = [r for r in request_views.reports(ctx, request_id) if r["store"] == "archive"]
    assert pending[0]["report"]["status"] == "pending"


def test_access_builds_a_sealed_package(ctx: Any, fakes: Fakes, demo: Any) -> None:
    request_id = open_verified(ctx, "access")
    with pytest.raises(Exception, match="no package"):
        package.read(ctx, request_id)
    result = execution.run_request(ctx, request_id, actor="dpo", opener=fakes.open)
    assert result["request"]["state"] == "completed"
    doc = package.read(ctx, request_id, "json")
    assert doc["stores"]["shop"]["customers"] == [{"id": 1, "email": "anna@example.org", "name": "Anna"}]
    assert doc["stores"]["crm"]["notes"][0]["text"] == "called"
    csvs = package.read(ctx, request_id, "csv")
    assert csvs["shop.order_items"].splitlines()[0] == "id,order_id,product"
    html = package.read(ctx, request_id, "html")
    # only the purposes that concern this person: the newsletter uses the e-mail address found,
    # the cookie-based purposes use nothing found and were never decided on
    assert "Newsletter" in html and "No recipients" in html
    assert "Essential operation" not in html and "Website analytics" not in html
    assert [p["key"] for p in doc["purposes"]] == ["newsletter"]
    assert not [c for kind, c in fakes.shop.calls if kind == "erase"]


def test_portability_keeps_provided_and_observed_data(ctx: Any, fakes: Fakes) -> None:
    request_id = open_verified(ctx, "portability")
    execution.run_request(ctx, request_id, actor="dpo", opener=fakes.open)
    doc = package.read(ctx, request_id)
    # the purchase history is observed from the person's activity: it is theirs to take along
    assert doc["stores"]["shop"]["order_items"] == [{"id": 100, "order_id": 10, "product": "tea"}]
    assert doc["stores"]["shop"]["customers"] == [{"id": 1, "email": "anna@example.org", "name": "Anna"}]
    assert "observed" in doc["rule"] and "inferred" in doc["rule"]


def test_rectification_sets_declared_fields(ctx: Any, fakes: Fakes) -> None:
    request_id = open_verified(ctx, "rectification", changes={"customers.name": "Anna K.", "nickname": "x"})
    result = execution.run_request(ctx, request_id, actor="dpo", opener=fakes.open)
    assert result["request"]["state"] == "completed"
    assert fakes.shop.data["customers"][0]["name"] == "Anna K."
    report = {r["store"]: r["report"] for r in request_views.reports(ctx, request_id)}["shop"]
    assert report["unmatched_fields"] == ["nickname"] and "Anna" not in str(report)


def test_the_package_expires(clocked_ctx: Any, clock: Any) -> None:
    fakes = Fakes(clocked_ctx)
    request_id = open_verified(clocked_ctx, "access")
    execution.run_request(clocked_ctx, request_id, actor="dpo", opener=fakes.open)
    clock.advance(days=31)
    with pytest.raises(Gone):
        package.read(clocked_ctx, request_id)
