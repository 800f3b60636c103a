"""Retention rules without a database: validation, the canonical form, words and applicability."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any

import pytest

from consent_service.errors import InvalidInput, UnknownReference
from consent_service.hashing import content_hash
from consent_service.registry.models import Purpose
from consent_service.retention.rules import Rule, applicable, category_matches, normalise, validate
from consent_service.stores.models import DataStore


class FakeSession:
    """Answers ``session.get`` from a registry of purposes and stores, like the real one would."""

    def __init__(self) -> None:
        self.rows: dict[tuple[type, str], Any] = {
            (Purpose, "newsletter"): SimpleNamespace(key="newsletter"),
            (Purpose, "analytics"): SimpleNamespace(key="analytics"),
            (DataStore, "crm"): SimpleNamespace(type="sql", spec={"collections": {"customers": {}}}),
            (DataStore, "cache"): SimpleNamespace(type="redis", spec={"collections": {"sessions": {}}}),
            (DataStore, "shop"): SimpleNamespace(type="http", spec={"collections": {"orders": {}}}),
            (DataStore, "archive"): SimpleNamespace(type="manual", spec={"collections": {"boxes": {}}}),
        }

    def get(self, model: type, key: Any, **_: Any) -> Any:
        return self.rows.get((model, key))


def doc(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "description": "Inactive customers",
        "applies_to": {"store": "crm", "collection": "customers"},
        "period": "P3Y",
        "trigger": {"type": "last_activity", "field": "last_order_at"},
        "action": "anonymise",
    }
    body.update(changes)
    return body


def errors_of(changes: dict[str, Any], key: str = "inactive") -> dict[str, list[str]]:
    with pytest.raises((InvalidInput, UnknownReference)) as caught:
        validate(FakeSession(), key, doc(**changes))  # type: ignore[arg-type]
    assert caught.value.errors is not None
    return dict(caught.value.errors)


def test_a_valid_rule_comes_back_in_canonical_form():
    assert validate(FakeSession(), "inactive", doc()) == doc()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"colour": "red"}, {"colour": ["unknown key"]}),
        ({"description": 7}, {"description": ["a text of at most 2000 characters"]}),
        ({"description": "x" * 2001}, {"description": ["a text of at most 2000 characters"]}),
        ({"applies_to": {}}, {"applies_to": ["name at least one of purpose, category, store, collection"]}),
        (
            {"applies_to": "crm"},
            {"applies_to": ["name at least one of purpose, category, store, collection"]},
        ),
        ({"applies_to": {"store": "crm", "table": "t"}}, {"applies_to.table": ["unknown key"]}),
        ({"applies_to": {"store": ["crm"]}}, {"applies_to.store": ["must be a string"]}),
        ({"period": "3 years"}, {"period": ["'3 years' is not an ISO 8601 duration such as P12M or P30D"]}),
        ({"period": "P0D"}, {"period": ["'P0D' is an empty duration"]}),
        ({"period": None}, {"period": ["'' is not an ISO 8601 duration such as P12M or P30D"]}),
        (
            {"trigger": {"type": "forever"}},
            {"trigger.type": ["must be one of since_field, last_activity, contract_end, consent_ended"]},
        ),
        (
            {"trigger": "last_activity"},
            {"trigger.type": ["must be one of since_field, last_activity, contract_end, consent_ended"]},
        ),
        (
            {"trigger": {"type": "since_field", "field": "created_at", "when": "x"}},
            {"trigger.when": ["unknown key"]},
        ),
        ({"trigger": {"type": "since_field", "field": 3}}, {"trigger.field": ["must be a string"]}),
        ({"action": "burn"}, {"action": ["must be one of delete, anonymise, crypto_shred"]}),
        # registry checks (run once the shape is right)
        (
            {"applies_to": {"purpose": "lottery"}},
            {"applies_to.purpose": ["no purpose 'lottery' is registered"]},
        ),
        (
            {"applies_to": {"category": "user.shoe_size"}},
            {"applies_to.category": ["unknown data category 'user.shoe_size'"]},
        ),
        (
            {"applies_to": {"collection": "customers"}},
            {"applies_to.collection": ["name the store of the collection too"]},
        ),
        ({"applies_to": {"store": "erp"}}, {"applies_to.store": ["no store 'erp' is registered"]}),
        (
            {"applies_to": {"store": "crm", "collection": "invoices"}},
            {"applies_to.collection": ["store 'crm' has no collection 'invoices'"]},
        ),
        (
            {"trigger": {"type": "since_field"}},
            {"trigger.field": ["since_field needs the name of the record's timestamp field"]},
        ),
        (
            {"trigger": {"type": "contract_end", "field": "ended at"}},
            {"trigger.field": ["contract_end needs the name of the record's timestamp field"]},
        ),
        (
            {"trigger": {"type": "last_activity", "field": "seen_at", "purpose": "newsletter"}},
            {"trigger.purpose": ["only consent_ended names a purpose; last_activity uses a field"]},
        ),
        (
            {"trigger": {"type": "consent_ended", "field": "created_at", "purpose": "newsletter"}},
            {"trigger.field": ["consent_ended runs from the consent's end, not from a field"]},
        ),
        (
            {"trigger": {"type": "consent_ended"}},
            {"trigger.purpose": ["name the purpose whose consent ending starts the period"]},
        ),
        (
            {"trigger": {"type": "consent_ended", "purpose": "lottery"}},
            {"trigger.purpose": ["no purpose 'lottery' is registered"]},
        ),
    ],
)
def test_every_bad_field_is_named(changes, errors):
    assert errors_of(changes) == errors


def test_a_bad_key_is_named_with_the_other_problems():
    assert errors_of({"action": "burn"}, key="Bad Key") == {
        "key": ["use 1-64 of a-z, 0-9, '_', '.', '-'"],
        "action": ["must be one of delete, anonymise, crypto_shred"],
    }


@pytest.mark.parametrize("store", ["shop", "archive"])
def test_only_sql_and_redis_stores_can_have_rules(store):
    message = errors_of({"applies_to": {"store": store}})["applies_to.store"][0]
    assert message.startswith(f"{store!r} is a ") and "applies its own retention" in message
    validate(FakeSession(), "cache", doc(applies_to={"store": "cache", "collection": "sessions"}))  # type: ignore[arg-type]


def test_a_non_object_is_refused():
    with pytest.raises((InvalidInput, UnknownReference)) as caught:
        validate(FakeSession(), "x", ["not", "a", "rule"])  # type: ignore[arg-type]
    assert caught.value.errors == {"rule": ["must be an object"]}


def test_key_order_and_empty_scope_keys_do_not_change_the_content_hash():
    one = doc(
        applies_to={"store": "crm", "collection": "customers"},
        trigger={"type": "last_activity", "field": "last_order_at"},
    )
    two = {
        "action": "anonymise",
        "trigger": {"field": "last_order_at", "type": "last_activity"},
        "period": "P3Y",
        "applies_to": {"collection": "customers", "purpose": "", "store": "crm"},
        "description": "Inactive customers",
    }
    assert normalise(one) == normalise(two)
    assert content_hash(normalise(one)) == content_hash(normalise(two))
    assert list(normalise(two)["applies_to"]) == ["store", "collection"]
    assert content_hash(normalise(doc(period="P2Y"))) != content_hash(normalise(one))


def test_a_missing_description_is_the_empty_one():
    body = doc()
    del body["description"]
    assert normalise(body) == normalise(doc(description=""))


def rule(**changes: Any) -> Rule:
    values: dict[str, Any] = {
        "key": "r",
        "version": 1,
        "description": "",
        "applies_to": {"store": "crm", "collection": "customers"},
        "period": "P3Y",
        "trigger": {"type": "last_activity", "field": "last_order_at"},
        "action": "anonymise",
    }
    values.update(changes)
    return Rule(**values)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        (
            {"trigger": {"type": "since_field", "field": "created_at"}, "action": "delete"},
            "P3Y after the record's created_at, then deleted",
        ),
        ({}, "P3Y after the last activity (last_order_at), then anonymised"),
        (
            {"trigger": {"type": "contract_end", "field": "contract_ended_at"}, "period": "P10Y"},
            "P10Y after the end of the contract (contract_ended_at), then anonymised",
        ),
        (
            {
                "applies_to": {"purpose": "newsletter"},
                "trigger": {"type": "consent_ended"},
                "period": "P30D",
                "action": "crypto_shred",
            },
            "P30D after consent to newsletter ended (withdrawn, refused or expired), then made unreadable",
        ),
        (
            {"trigger": {"type": "consent_ended", "purpose": "analytics"}, "action": "delete"},
            "P3Y after consent to analytics ended (withdrawn, refused or expired), then deleted",
        ),
    ],
)
def test_sentence(changes, words):
    assert rule(**changes).sentence() == words


def test_cutoff_is_calendar_arithmetic():
    now = dt.datetime(2026, 3, 31, 12, tzinfo=dt.UTC)
    assert rule(period="P1M").cutoff(now) == dt.datetime(2026, 2, 28, 12, tzinfo=dt.UTC)
    assert rule(period="P3Y").cutoff(now) == dt.datetime(2023, 3, 31, 12, tzinfo=dt.UTC)


def test_the_consent_purpose_comes_from_the_trigger_or_the_scope():
    assert rule(trigger={"type": "consent_ended", "purpose": "analytics"}).consent_purpose == "analytics"
    assert rule(applies_to={"purpose": "newsletter"}, trigger={"type": "consent_ended"}).consent_purpose == (
        "newsletter"
    )
    assert rule().consent_purpose is None and rule().trigger_field == "last_order_at"


def test_category_matches_covers_children_only():
    assert category_matches("user.contact", "user.contact.email")
    assert category_matches("user.contact", "user.contact")
    assert not category_matches("user.contact.email", "user.contact")
    assert not category_matches("user.contact", "user.contactless")


def test_applicable_picks_rules_by_purpose_category_or_collection():
    by_purpose = rule(key="p", applies_to={"purpose": "newsletter"}, trigger={"type": "consent_ended"})
    by_trigger = rule(
        key="t", applies_to={"category": "user.device"}, trigger={"type": "consent_ended", "purpose": "ads"}
    )
    by_category = rule(key="c", applies_to={"category": "user.contact"})
    by_store = rule(key="s", applies_to={"store": "crm"})
    by_collection = rule(key="k", applies_to={"store": "crm", "collection": "customers"})
    rules = [by_purpose, by_trigger, by_category, by_store, by_collection]

    def keys(**kwargs: Any) -> list[str]:
        return [r.key for r in applicable(rules, **kwargs)]

    assert keys() == []
    assert keys(purposes=["newsletter"]) == ["p"]
    assert keys(purposes=["ads"]) == ["t"]
    assert keys(categories=["user.contact.email"]) == ["c"]
    assert keys(categories=["user.device.cookie_id"]) == ["t"]
    assert keys(categories=["user"]) == []
    assert keys(collections=[("crm", "customers")]) == ["s", "k"]
    assert keys(collections=[("crm", "orders")]) == ["s"]
    assert keys(collections=[("erp", "customers")]) == []
    assert keys(purposes=["newsletter"], collections=[("crm", "customers")]) == ["p", "s", "k"]
