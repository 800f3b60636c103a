"""Signed, expiring download links for access packages: fetched without a bearer token;
tampered → 401, expired → 410 (problem+json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from consent_service import create_app
from consent_service.auth.service import register_client
from consent_service.dsar import execution
from tests.api.helpers import assert_problem


def test_a_package_link_works_without_a_token_until_it_expires(
    clocked_ctx: Any, clock: Any, tmp_path: Path
) -> None:
    client = create_app(context=clocked_ctx).test_client()
    headers = {"Authorization": f"Bearer {register_client(clocked_ctx, 'dpo', ['dsar:manage'])[1]}"}
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT)"))
        conn.execute(text("INSERT INTO customers VALUES (1, 'anna@example.org')"))
    engine.dispose()
    store = {
        "type": "sql",
        "connection": {"url": url},
        "collections": {
            "customers": {
                "primary_key": "id",
                "identities": {"email": "email"},
                "fields": {"email": {"category": "user.contact.email"}},
            }
        },
    }
    assert client.put("/v1/stores/crm", headers=headers, json=store).status_code == 201
    body = {
        "type": "access",
        "identities": [{"type": "email", "value": "anna@example.org"}],
        "verification": {"method": "dpo", "note": "seen"},
    }
    request_id = client.post("/v1/requests", headers=headers, json=body).get_json()["id"]
    assert_problem(client.post(f"/v1/requests/{request_id}/package/link", headers=headers), 404)
    assert_problem(client.post(f"/v1/requests/{request_id}/package/link"), 401)
    assert execution.run_request(clocked_ctx, request_id, actor="dpo")["request"]["state"] == "completed"

    made = client.post(f"/v1/requests/{request_id}/package/link", headers=headers)
    assert made.status_code == 200, made.get_json()
    link = made.get_json()
    assert link["url"].startswith("http://localhost/v1/packages/") and link["expires_at"]
    path = link["url"].removeprefix("http://localhost")
    package = client.get(path)  # no Authorization header
    assert package.status_code == 200
    assert package.get_json()["stores"]["crm"]["customers"] == [{"id": 1, "email": "anna@example.org"}]
    assert client.get(path + "?format=html").mimetype == "text/html"
    assert client.get(path + "?format=csv&collection=crm.customers").mimetype == "text/csv"

    token = path.rsplit("/", 1)[1]
    encoded, mac = token.split(".")
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    assert_problem(client.get(f"/v1/packages/{encoded}.{flipped}"), 401)
    assert_problem(client.get(f"/v1/packages/{encoded[:-2]}xx.{mac}"), 401)
    assert_problem(client.get("/v1/packages/garbage"), 401)

    clock.advance(hours=73)
    gone = assert_problem(client.get(path), 410)
    assert gone["reason"] == "expired"
