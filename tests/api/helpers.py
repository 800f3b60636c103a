"""Small helpers for API tests."""

from __future__ import annotations

from typing import Any

PROBLEM = "application/problem+json"


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status
    assert body["type"].startswith("https://") and body["title"] and body["detail"]
    return body


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
