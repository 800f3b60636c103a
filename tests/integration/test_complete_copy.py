"""The copy holds every column of a person's rows, on real stores (SQLite, PostgreSQL, Redis).

A column the store description does not declare is in the access copy (category
"unclassified"); a column it excludes is not, and the package says why; portability leaves
out the fields declared inferred and keeps the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from consent_service.dsar import execution, package
from consent_service.dsar.requests import OpenRequest, open_request
from consent_service.stores.registry import save_store
from consent_service.subjects.service import IdentityRef
from tests.integration.helpers import session_store

ANNA = "anna@example.org"
EXCLUDED = "a credential: showing it would weaken the account's protection"


@pytest.fixture(params=["sqlite", "postgresql"])
def shop_url(request: Any, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shop.db'}"
    else:
        url = request.getfixturevalue("pg_empty_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(200), name VARCHAR(200), "
                "segment VARCHAR(50), loyalty_tier VARCHAR(20), password_hash VARCHAR(200))"
            )
        )
        conn.execute(
            text(
                f"INSERT INTO customers VALUES (1, '{ANNA}', 'Anna', 'bargain hunter', 'gold', 'pbkdf2$x'), "
                "(2, 'ben@example.org', 'Ben', 'new', 'none', 'pbkdf2$y')"
            )
        )
    engine.dispose()
    return url


def register(ctx: Any, shop_url: str, sessions: tuple[Any, str]) -> None:
    _, prefix = sessions
    save_store(
        ctx,
        "shop",
        {
            "type": "sql",
            "connection": {"url": shop_url},
            "collections": {
                "customers": {
                    "primary_key": "id",
                    "identities": {"email": "email"},
                    "exclude": {"password_hash": EXCLUDED},
                    "fields": {
                        "email": {"category": "user.contact.email"},
                        "name": {"category": "user.name"},
                        "segment": {"category": "user.demographic.profile", "origin": "inferred"},
                    },
                }
            },
        },
    )
    save_store(ctx, "cache", session_store(prefix))  # the hashes' "ip" field is not declared


def package_of(ctx: Any, kind: str) -> dict[str, Any]:
    cmd = OpenRequest(kind, [IdentityRef("email", ANNA)], {"method": "dpo", "note": "passport seen"})
    request_id = open_request(ctx, cmd, actor="dpo")["id"]
    result = execution.run_request(ctx, request_id, actor="dpo")
    assert result["request"]["state"] == "completed", result
    doc: dict[str, Any] = package.read(ctx, request_id)
    return doc


def test_every_column_but_the_excluded_ones_is_in_the_copy(ctx: Any, shop_url: str, sessions: Any) -> None:
    register(ctx, shop_url, sessions)
    doc = package_of(ctx, "access")
    assert doc["stores"]["shop"]["customers"] == [
        {"id": 1, "email": ANNA, "name": "Anna", "segment": "bargain hunter", "loyalty_tier": "gold"}
    ]
    assert doc["columns"]["shop"]["customers"]["loyalty_tier"] == "unclassified"
    assert doc["left_out"]["shop"]["customers"] == {"password_hash": EXCLUDED}
    (session,) = doc["stores"]["cache"]["sessions"]
    assert session["ip"] == "192.0.2.1" and doc["columns"]["cache"]["sessions"]["ip"] == "unclassified"


def test_portability_leaves_out_inferred_fields_only(ctx: Any, shop_url: str, sessions: Any) -> None:
    register(ctx, shop_url, sessions)
    doc = package_of(ctx, "portability")
    assert doc["stores"]["shop"]["customers"] == [
        {"id": 1, "email": ANNA, "name": "Anna", "loyalty_tier": "gold"}
    ]
    assert doc["stores"]["cache"]["sessions"][0]["cart"] == "tea"  # observed behaviour
