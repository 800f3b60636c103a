"""Fixtures of the integration tests that more than one module uses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from consent_service.crypto.keyring import KeyMaterial
from tests.conftest import REQUIRE_SERVERS, server_url


@pytest.fixture
def sessions() -> Iterator[tuple[Any, str]]:
    import redis

    client = redis.Redis.from_url(server_url("redis"), decode_responses=True)
    try:
        client.ping()
    except redis.RedisError as exc:
        (pytest.fail if REQUIRE_SERVERS else pytest.skip)(f"Redis cannot be reached: {exc}")
    prefix = f"t{uuid.uuid4().hex[:8]}"
    client.hset(f"{prefix}:session:1", mapping={"customer_id": "1", "cart": "tea", "ip": "192.0.2.1"})
    client.hset(f"{prefix}:session:2", mapping={"customer_id": "2", "cart": "mug", "ip": "192.0.2.2"})
    yield client, prefix
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def cli_env(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of a ``consent-service`` command on the test's migrated SQLite database
    (set in this process, for click's CliRunner), and returned."""
    env = {
        "CONSENT_DATABASE_URL": sqlite_url,
        "CONSENT_DATA_DIR": str(tmp_path),
        "CONSENT_MASTER_KEYS": KeyMaterial.generate().to_json(),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env
