"""``/v1/stores``: registration, reads without secrets, connection tests, 422s and scopes."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path
from typing import Any

from consent_service.context import Context
from tests.api.helpers import assert_problem
from tests.unit.store_examples import SHOP

PG_PASSWORD = "pg-Very-Secret-pw"
HTTP_SECRET = "http-shared-secret-0123456789"


def shop_doc(url: str = f"postgresql+psycopg://shop:{PG_PASSWORD}@127.0.0.1:1/shop") -> dict[str, Any]:
    doc = copy.deepcopy(SHOP)
    doc["connection"] = {"url": url}
    return doc


def http_doc() -> dict[str, Any]:
    return {
        "type": "http",
        "description": "The CRM",
        "connection": {"endpoint": "https://localhost/crm-dsar", "secret": HTTP_SECRET},
        "collections": {
            "contacts": {
                "identities": {"email": "email"},
                "fields": {"email": {"category": "user.contact.email", "erase": "delete"}},
            }
        },
    }


def sqlite_shop(tmp_path: Path) -> str:
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
        conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER)")
    conn.close()
    return f"sqlite:///{path}"


def test_put_get_list_never_show_secrets(
    client: Any, admin: dict[str, str], ctx: Context, tmp_path: Path
) -> None:
    created = client.put("/v1/stores/shop", json=shop_doc(), headers=admin)
    assert created.status_code == 201, created.get_data(as_text=True)
    body = created.get_json()
    assert body["connection"] == {"url": "postgresql+psycopg://shop:***@127.0.0.1:1/shop"}
    assert body["collections"]["orders"]["hold"]["basis"] == "legal_obligation"
    assert client.put("/v1/stores/crm", json=http_doc(), headers=admin).status_code == 201
    again = client.put("/v1/stores/crm", json=http_doc(), headers=admin)
    assert again.status_code == 200
    assert again.get_json()["connection"] == {"endpoint": "https://localhost/crm-dsar", "secret": "***"}

    one = client.get("/v1/stores/crm", headers=admin)
    assert one.status_code == 200 and one.get_json()["description"] == "The CRM"
    listed = client.get("/v1/stores", headers=admin)
    assert [s["key"] for s in listed.get_json()] == ["crm", "shop"]
    for response in (created, again, one, listed):
        text = response.get_data(as_text=True)
        assert PG_PASSWORD not in text and HTTP_SECRET not in text
    openapi = client.get("/openapi.json").get_json()
    assert "/v1/stores/{key}/test" in openapi["paths"]

    ctx.db.dispose()
    for path in tmp_path.glob("consent.db*"):
        raw = path.read_bytes()
        assert PG_PASSWORD.encode() not in raw and HTTP_SECRET.encode() not in raw, path


def test_hidden_values_sent_back_keep_the_secret(client: Any, admin: dict[str, str], ctx: Context) -> None:
    from consent_service.stores.registry import load_spec

    client.put("/v1/stores/crm", json=http_doc(), headers=admin)
    shown = client.get("/v1/stores/crm", headers=admin).get_json()
    doc = {k: shown[k] for k in ("type", "description", "connection", "collections")}
    doc["description"] = "The CRM, renamed"
    assert client.put("/v1/stores/crm", json=doc, headers=admin).status_code == 200
    _, connection = load_spec(ctx, "crm")
    assert connection["secret"] == HTTP_SECRET


def test_invalid_descriptions_are_422_problems_and_write_nothing(client: Any, admin: dict[str, str]) -> None:
    doc = shop_doc()
    doc["collections"]["customers"]["fields"]["email"]["category"] = "user.bogus"
    doc["collections"]["orders"]["references"] = {"customer_id": "customers.nope"}
    body = assert_problem(client.put("/v1/stores/shop", json=doc, headers=admin), 422)
    assert set(body["errors"]) == {
        "collections.customers.fields.email.category",
        "collections.orders.references.customer_id",
    }
    schema = assert_problem(client.put("/v1/stores/shop", json={"type": "oracle"}, headers=admin), 422)
    assert {"type", "connection", "collections"} <= set(schema["errors"])
    assert_problem(client.put("/v1/stores/Not%20OK", json=shop_doc(), headers=admin), 404)  # not a key
    assert client.get("/v1/stores", headers=admin).get_json() == []
    assert_problem(client.get("/v1/stores/shop", headers=admin), 404)
    assert_problem(client.post("/v1/stores/shop/test", headers=admin), 404)


def test_the_scope_is_required(client: Any, token: Any) -> None:
    reader = {"Authorization": f"Bearer {token('registry:read')}"}
    assert_problem(client.get("/v1/stores", headers=reader), 403)
    assert_problem(client.get("/v1/stores"), 401)
    manager = {"Authorization": f"Bearer {token('dsar:manage')}"}
    assert client.get("/v1/stores", headers=manager).status_code == 200


def test_connection_test_reports_each_check(client: Any, admin: dict[str, str], tmp_path: Path) -> None:
    client.put("/v1/stores/shop", json=shop_doc(sqlite_shop(tmp_path)), headers=admin)
    report = client.post("/v1/stores/shop/test", headers=admin)
    assert report.status_code == 200
    body = report.get_json()
    assert body["ok"] is False
    failed = [c for c in body["checks"] if not c["ok"]]
    assert failed == [
        {
            "collection": "orders",
            "field": "shipping_address",
            "ok": False,
            "problem": "no column shipping_address",
        }
    ]
    assert {"collection": "customers", "field": "email", "ok": True} in body["checks"]


def test_an_unreachable_store_is_a_report_not_a_500(client: Any, admin: dict[str, str]) -> None:
    client.put("/v1/stores/shop", json=shop_doc(), headers=admin)
    body = client.post("/v1/stores/shop/test", headers=admin).get_json()
    assert body["ok"] is False
    assert body["checks"][0]["problem"].startswith("cannot connect")
    assert PG_PASSWORD not in str(body)
