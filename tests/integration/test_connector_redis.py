"""The Redis connector against a real Redis (CONSENT_TEST_REDIS_URL, db 15); it removes its own keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from consent_service.stores.connectors import connector_for
from consent_service.stores.connectors.base import keyed_hash
from consent_service.stores.connectors.redis import RedisConnector, key_glob
from consent_service.stores.spec import parse_store
from tests.conftest import REQUIRE_SERVERS, server_url

HASH_KEY = b"r" * 32


@pytest.fixture
def setup() -> Iterator[tuple[RedisConnector, redis.Redis, str]]:
    url = server_url("redis")
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        client.ping()
    except redis.RedisError as exc:
        message = f"Redis at {url} cannot be reached: {exc}"
        client.close()
        if REQUIRE_SERVERS:
            pytest.fail(message)
        pytest.skip(message)
    ns = f"t{uuid.uuid4().hex[:8]}"
    doc: dict[str, Any] = {
        "type": "redis",
        "connection": {"url": url},
        "collections": {
            "sessions": {
                "pattern": ns + ":session:{customer_id}",
                "kind": "hash",
                "identities": {"customer_id": "customer_id"},
                "fields": {
                    "ip": {"category": "user.device.ip_address", "erase": "hash"},
                    "email": {"category": "user.contact.email", "erase": "mask"},
                    "name": {"category": "user.name", "erase": "nullify"},
                },
            },
            "carts": {
                "pattern": ns + ":cart:{device}:{email}",
                "kind": "string",
                "identities": {"email": "email", "device_id": "device"},
                "fields": {"value": {"category": "user.behavior.purchase_history", "erase": "nullify"}},
            },
        },
    }
    client.hset(f"{ns}:session:1", mapping={"ip": "203.0.113.7", "email": "anna@example.org", "name": "Anna"})
    client.hset(f"{ns}:session:2", mapping={"ip": "198.51.100.1", "email": "ben@example.org", "name": "Ben"})
    client.set(f"{ns}:cart:d1:anna@example.org", "[1,2]")
    client.set(f"{ns}:cart:d2:anna@example.org", "[3]")
    client.set(f"{ns}:cart:d3:ben@example.org", "[4]")
    connector = connector_for(parse_store("cache", doc), doc["connection"], hash_key=HASH_KEY)
    assert isinstance(connector, RedisConnector)
    yield connector, client, ns
    connector.close()
    for key in client.scan_iter(match=f"{ns}:*"):
        client.delete(key)
    client.close()


def test_check_sees_patterns_kinds_and_fields(setup: tuple[RedisConnector, redis.Redis, str]) -> None:
    connector, client, ns = setup
    assert all(c.ok for c in connector.check())
    client.delete(f"{ns}:session:1", f"{ns}:session:2")
    client.set(f"{ns}:session:3", "not a hash")
    failed = [c for c in connector.check() if not c.ok]
    assert len(failed) == 1 and failed[0].collection == "sessions"
    assert "is a string, not a hash" in (failed[0].problem or "")


def test_find_reads_hashes_and_scans_strings(setup: tuple[RedisConnector, redis.Redis, str]) -> None:
    connector, _, ns = setup
    sessions = connector.find("sessions", "customer_id", ["1", "9"])
    assert sessions == [
        {"_key": f"{ns}:session:1", "ip": "203.0.113.7", "email": "anna@example.org", "name": "Anna"}
    ]
    carts = connector.find("carts", "email", ["anna@example.org"])
    assert sorted(c["_key"] for c in carts) == [
        f"{ns}:cart:d1:anna@example.org",
        f"{ns}:cart:d2:anna@example.org",
    ]
    assert key_glob("a:{x}:{y}", {"x": "p*q"}) == "a:p\\*q:*"


def test_erase_is_idempotent(setup: tuple[RedisConnector, redis.Redis, str]) -> None:
    connector, client, ns = setup
    rows = connector.find("sessions", "customer_id", ["1"])
    plan = connector.spec.collections["sessions"].erase_actions()
    assert connector.erase("sessions", rows, plan).updated == 1
    assert client.hgetall(f"{ns}:session:1") == {
        "ip": keyed_hash(HASH_KEY, "203.0.113.7"),
        "email": "[erased]",
    }
    assert connector.erase("sessions", rows, plan).changed == 0
    assert client.hget(f"{ns}:session:2", "name") == "Ben"

    carts = connector.find("carts", "email", ["anna@example.org"])
    assert connector.erase("carts", carts, {"value": "nullify"}).deleted == 2
    assert connector.erase("carts", carts, {"value": "nullify"}).changed == 0
    assert client.exists(f"{ns}:cart:d3:ben@example.org") == 1
    assert connector.erase("sessions", rows, {"ip": "delete"}).deleted == 1
    assert client.exists(f"{ns}:session:1") == 0


def test_rectify(setup: tuple[RedisConnector, redis.Redis, str]) -> None:
    connector, client, ns = setup
    rows = connector.find("sessions", "customer_id", ["2"])
    assert connector.rectify("sessions", rows, {"name": "Ben Braun"}) == 1
    assert connector.rectify("sessions", rows, {"name": "Ben Braun"}) == 0
    assert client.hget(f"{ns}:session:2", "name") == "Ben Braun"


def test_unreachable_redis_is_a_failed_check() -> None:
    doc = {
        "type": "redis",
        "connection": {"url": "redis://127.0.0.1:1/0"},
        "collections": {"s": {"pattern": "s:{customer_id}", "identities": {"customer_id": "customer_id"}}},
    }
    connector = connector_for(parse_store("cache", doc), doc["connection"])
    checks = connector.check()
    connector.close()
    assert len(checks) == 1 and not checks[0].ok and (checks[0].problem or "").startswith("cannot connect")
