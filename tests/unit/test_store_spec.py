"""Validation of store descriptions: every rule, every problem reported at once, no database."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from consent_service.errors import InvalidInput
from consent_service.stores.secrets import keep_hidden, redact
from consent_service.stores.spec import parse_store, placeholders
from tests.unit.store_examples import SHOP, shop


def errors_of(key: str, doc: Any) -> dict[str, list[str]]:
    with pytest.raises(InvalidInput) as caught:
        parse_store(key, doc)
    assert caught.value.errors
    return caught.value.errors  # type: ignore[return-value]


def test_the_documented_example_is_valid() -> None:
    spec = parse_store("shop", copy.deepcopy(SHOP))
    customers = spec.collections["customers"]
    assert customers.identities == {"email": "email", "customer_id": "id"}
    assert customers.columns == ["id", "email", "name"]
    assert customers.erase_actions() == {"id": "delete"}
    orders = spec.collections["orders"]
    assert orders.hold is not None and orders.hold.basis == "legal_obligation"
    assert orders.erase_actions() == {"shipping_address": "nullify"}


def test_every_problem_is_reported_with_its_path() -> None:
    doc = shop()
    customers = doc["collections"]["customers"]
    customers["fields"]["email"]["category"] = "user.nonsense"
    customers["fields"]["name"]["erase"] = "shred"
    customers["identities"]["phone"] = "phone"
    customers["identities"]["passport"] = "email"
    doc["collections"]["orders"]["references"] = {"customer_id": "customers.uuid", "ghost": "nowhere.id"}
    errors = errors_of("shop", doc)
    assert "unknown data category" in errors["collections.customers.fields.email.category"][0]
    assert "collections.customers.fields.name.erase" in errors
    assert "neither a declared field" in errors["collections.customers.identities.phone"][0]
    assert "identity types are" in errors["collections.customers.identities.passport"][0]
    assert "not a declared field of 'customers'" in errors["collections.orders.references.customer_id"][0]
    assert "collections.orders.references.ghost" in errors


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"type": "oracle"}, "type"),
        ({"connection": {"url": "not a url"}}, "connection.url"),
        ({"connection": "postgresql://x"}, "connection"),
        ({"collections": {}}, "collections"),
        ({"extra": 1}, "extra"),
        ({"description": 5}, "description"),
    ],
)
def test_top_level_rules(change: dict[str, Any], path: str) -> None:
    assert path in errors_of("shop", shop(**change))


def test_store_keys_are_checked() -> None:
    assert "key" in errors_of("Bad Key!", shop())


@pytest.mark.parametrize(
    ("collection", "path"),
    [
        (
            {"identities": {"email": "email"}, "fields": {"email": {"category": "user.contact.email"}}},
            "primary_key",
        ),
        ({"primary_key": "id", "fields": {}}, ""),
        ({"primary_key": "id", "identities": {"customer_id": "id"}, "erase": "burn"}, "erase"),
        ({"primary_key": "id", "identities": {"customer_id": "id"}, "colour": "red"}, "colour"),
        ({"primary_key": "id", "identities": {"customer_id": "id"}, "pattern": "x:{id}"}, "pattern"),
        ({"primary_key": "id", "identities": {"customer_id": "id"}, "hold": {"reason": ""}}, "hold.reason"),
        (
            {
                "primary_key": "id",
                "identities": {"customer_id": "id"},
                "hold": {"reason": "x", "basis": "whim"},
            },
            "hold.basis",
        ),
        (
            {
                "primary_key": "id",
                "identities": {"customer_id": "id"},
                "erase": "delete",
                "hold": {"reason": "tax", "basis": "legal_obligation"},
            },
            "hold",
        ),
        (
            {
                "primary_key": "id",
                "identities": {"customer_id": "id"},
                "fields": {"a": {"category": "user.name", "erase": "nullify", "mask": "x"}},
            },
            "fields.a.mask",
        ),
        (
            {"primary_key": "id", "identities": {"customer_id": "id"}, "fields": {"a": "user.name"}},
            "fields.a",
        ),
        (
            {"primary_key": "id", "identities": {"customer_id": "id"}, "fields": {"a": {"erase": "nullify"}}},
            "fields.a.category",
        ),
        (
            {"primary_key": "id", "identities": {"customer_id": "id"}, "references": {"id": "bad"}},
            "references.id",
        ),
        (
            {"primary_key": "id", "identities": {"customer_id": "id"}, "exclude": ["password_hash"]},
            "exclude",
        ),
        (
            {"primary_key": "id", "identities": {"customer_id": "id"}, "exclude": {"password_hash": " "}},
            "exclude.password_hash",
        ),
        (
            {"primary_key": "id", "identities": {"customer_id": "id"}, "exclude": {"bad name": "why"}},
            "exclude.bad name",
        ),
        (
            {
                "primary_key": "id",
                "identities": {"customer_id": "id"},
                "fields": {"a": {"category": "user.name", "origin": "guessed"}},
            },
            "fields.a.origin",
        ),
    ],
)
def test_collection_rules(collection: dict[str, Any], path: str) -> None:
    doc = {"type": "sql", "connection": {"url": "sqlite://"}, "collections": {"things": collection}}
    errors = errors_of("s", doc)
    assert ("collections.things" + (f".{path}" if path else "")) in errors, errors


def test_a_reference_into_another_store_is_accepted() -> None:
    doc = shop()
    doc["collections"]["orders"]["references"] = {"customer_id": "crm.contacts.id"}
    parse_store("shop", doc)
    doc["collections"]["orders"]["references"] = {"customer_id": "shop.customers.id"}
    parse_store("shop", doc)
    doc["collections"]["orders"]["references"] = {"customer_id": "shop.customers.nope"}
    assert "collections.orders.references.customer_id" in errors_of("shop", doc)


def redis_doc(**collection: Any) -> dict[str, Any]:
    base = {
        "pattern": "session:{customer_id}",
        "kind": "hash",
        "identities": {"customer_id": "customer_id"},
        "fields": {"ip": {"category": "user.device.ip_address", "erase": "hash"}},
    }
    base.update(collection)
    return {
        "type": "redis",
        "connection": {"url": "redis://127.0.0.1:6379/0"},
        "collections": {"sessions": base},
    }


def test_redis_rules() -> None:
    spec = parse_store("cache", redis_doc())
    assert spec.collections["sessions"].pattern == "session:{customer_id}"
    assert "collections.sessions.pattern" in errors_of("cache", redis_doc(pattern="session:static"))
    assert "collections.sessions.pattern" in errors_of("cache", redis_doc(pattern="s:{customer_id}:{other}"))
    assert "collections.sessions.kind" in errors_of("cache", redis_doc(kind="list"))
    assert "collections.sessions.fields" in errors_of("cache", redis_doc(kind="string"))
    assert "collections.sessions.primary_key" in errors_of("cache", redis_doc(primary_key="id"))
    bad_url = redis_doc()
    bad_url["connection"] = {"url": "http://x"}
    assert "connection.url" in errors_of("cache", bad_url)
    assert placeholders("a:{x}:b:{y}") == ["x", "y"]


def test_http_rules() -> None:
    doc = {
        "type": "http",
        "connection": {"endpoint": "ftp://x", "secret": "short"},
        "collections": {
            "contacts": {
                "identities": {"email": "email"},
                "fields": {"email": {"category": "user.contact.email", "erase": "delete"}},
            }
        },
    }
    errors = errors_of("crm", doc)
    assert set(errors) == {"connection.endpoint", "connection.secret"}
    doc["connection"] = {"endpoint": "https://crm.example/dsar", "secret": "x" * 32}
    parse_store("crm", doc)


def test_redaction_hides_every_secret() -> None:
    shown = redact({"url": "postgresql+psycopg://shop:pw@db/shop"}, "sql")
    assert shown == {"url": "postgresql+psycopg://shop:***@db/shop"}
    shown = redact(
        {"endpoint": "https://u:p@crm.example/x?token=abc", "secret": "s" * 20, "timeout": 5}, "http"
    )
    assert shown == {"endpoint": "https://u:***@crm.example/x?***", "secret": "***", "timeout": 5}
    assert redact({"url": "redis://:pw@127.0.0.1:6379/15"}, "redis") == {
        "url": "redis://:***@127.0.0.1:6379/15"
    }


def test_hidden_values_keep_the_stored_secret() -> None:
    old = {"url": "postgresql+psycopg://shop:pw@db/shop", "secret": "old-secret"}
    new = {"url": "postgresql+psycopg://shop:***@db/shop", "secret": "***"}
    assert keep_hidden(new, old) == old


def test_a_sql_reference_may_start_from_any_column() -> None:
    doc = shop()
    orders = doc["collections"]["orders"]
    orders["references"] = {"customer_id": "customers.id"}
    orders["fields"].pop("customer_id", None)
    spec = parse_store("shop", doc)
    assert "customer_id" in spec.collections["orders"].columns


def test_a_redis_reference_must_start_from_a_declared_field() -> None:
    doc = {
        "type": "redis",
        "connection": {"url": "redis://127.0.0.1:6379/0"},
        "collections": {
            "sessions": {
                "pattern": "session:{customer_id}",
                "identities": {"customer_id": "customer_id"},
                "references": {"cart": "sessions.customer_id"},
                "fields": {"customer_id": {"category": "user.unique_id", "erase": "delete"}},
            }
        },
    }
    assert "declared field" in errors_of("cache", doc)["collections.sessions.references.cart"][0]


def test_a_manual_store_is_searched_by_identities_it_does_not_declare_as_fields() -> None:
    doc = {
        "type": "manual",
        "connection": {"assignee": "archive@example.org", "due_days": 7},
        "collections": {
            "paper_files": {
                "identities": {"email": "email"},
                "instructions": "Search the folders.",
                "fields": {"forms": {"category": "user.name", "erase": "delete"}},
            }
        },
    }
    assert parse_store("archive", doc).collections["paper_files"].identities == {"email": "email"}


def test_excluded_columns_keep_their_reason_and_fields_their_origin() -> None:
    doc = {
        "type": "sql",
        "connection": {"url": "sqlite://"},
        "collections": {
            "things": {
                "primary_key": "id",
                "identities": {"customer_id": "id"},
                "exclude": {"password_hash": "  a credential  "},
                "fields": {
                    "score": {"category": "user.demographic.profile", "origin": "inferred"},
                    "visits": {"category": "user.behavior.browsing_history", "origin": "observed"},
                    "name": {"category": "user.name"},
                },
            }
        },
    }
    things = parse_store("s", doc).collections["things"]
    assert things.exclude == {"password_hash": "a credential"}
    assert [f.portable for f in things.fields.values()] == [False, True, True]
    assert things.fields["name"].origin == "provided"
