"""Small helpers for API tests."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"] and body["detail"]
    return body


def ask_for_link(client: Any, address: str, query: str = "", **post: Any) -> Any:
    """Ask the preference centre for a sign-in link as a browser does: the form's page (its CSRF
    token), then the form; the answer to the POST."""
    page = client.get(f"/privacy/preferences{query}", environ_base=post.get("environ_base", {}))
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, page.get_data(as_text=True)
    data = {"csrf_token": found.group(1), "email": address}
    return client.post(f"/privacy/preferences{query}", data=data, **post)


def consent_body(value: str = "anna@example.org", kind: str = "email", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "subject": {"type": kind, "value": value},
        "decisions": [{"purpose": "newsletter", "granted": True}, {"cookie": "_ga", "granted": False}],
        "channel": "web_form",
        "method": "custom",
        "collection_point": "signup-form",
        "language": "de",
        "jurisdiction": "EU",
        "proof": {
            "ip": "203.0.113.77",
            "user_agent": "Mozilla/5.0 (X11)",
            "url": "https://shop.example/signup",
        },
    }
    body.update(changes)
    return body


CRM_STORE: dict[str, Any] = {
    "type": "sql",
    "collections": {
        "customers": {
            "primary_key": "id",
            "identities": {"email": "email"},
            "erase": "delete",
            "fields": {"email": {"category": "user.contact.email"}, "name": {"category": "user.name"}},
        }
    },
}


def crm_store(
    client: Any,
    headers: dict[str, str],
    tmp_path: Path,
    rows: tuple[tuple[int, str, str], ...] = ((1, "anna@example.org", "Anna"),),
) -> str:
    """A SQLite "crm" store with a customers table, registered through the API; returns its URL."""
    url = f"sqlite:///{tmp_path / 'crm.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, name TEXT)"))
        for row in rows:
            conn.execute(
                text("INSERT INTO customers VALUES (:id, :email, :name)"),
                dict(zip(("id", "email", "name"), row, strict=True)),
            )
    engine.dispose()
    response = client.put("/v1/stores/crm", headers=headers, json=CRM_STORE | {"connection": {"url": url}})
    assert response.status_code == 201, response.get_data(as_text=True)
    return url
