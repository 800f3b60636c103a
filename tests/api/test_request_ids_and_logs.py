"""Request ids on every response and log record; the app's log records hold no personal data.

(The gunicorn access log is tested live in tests/integration/test_live_logs.py.)
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from consent_service.logs import json_handler, redact_path, scrub

EMAIL = "ulrike.canary@mail.example"


@pytest.fixture
def app_log() -> Iterator[io.StringIO]:
    """The JSON lines that the API's logger writes, as the service's handler writes them."""
    stream = io.StringIO()
    handler = json_handler(stream)
    logger = logging.getLogger("consent_service.api")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_well_formed_request_id_is_kept_and_returned(client) -> None:
    response = client.get("/health", headers={"X-Request-Id": "0f3c9a2e-7d41-4b8e-9d6a-2b1f5c7e8a90"})
    assert response.headers["X-Request-Id"] == "0f3c9a2e-7d41-4b8e-9d6a-2b1f5c7e8a90"


@pytest.mark.parametrize("sent", [EMAIL, "short", "x" * 65, "a b c d e f g h", "https://x.example/?q=1"])
def test_anything_else_is_replaced_by_a_fresh_id(client, sent: str) -> None:
    first = client.get("/health", headers={"X-Request-Id": sent}).headers["X-Request-Id"]
    second = client.get("/health", headers={"X-Request-Id": sent}).headers["X-Request-Id"]
    assert first != sent and len(first) == 32 and first != second


def test_problem_responses_carry_the_request_id_too(client) -> None:
    response = client.get("/v1/nothing-here", headers={"X-Request-Id": "abcdef0123456789"})
    assert response.status_code == 404
    assert response.headers["X-Request-Id"] == "abcdef0123456789"


def test_an_unexpected_error_is_logged_without_its_message_and_with_the_request_id(
    app, app_log: io.StringIO
) -> None:
    def explode(token: str) -> None:
        raise ValueError(f"cannot parse {EMAIL}")

    app.add_url_rule("/v1/packages/<token>/explode", "explode", explode)
    client = app.test_client()
    response = client.get(
        f"/v1/packages/tok{EMAIL}/explode?email={EMAIL}", headers={"X-Request-Id": "req_12345678"}
    )
    assert response.status_code == 500
    text = app_log.getvalue()
    assert EMAIL not in text and "ulrike" not in text and f"tok{EMAIL}" not in text
    (record,) = [r for r in lines(app_log) if r["level"] == "ERROR"]
    assert record["request_id"] == "req_12345678"
    assert record["message"] == "unhandled error on GET /v1/packages/[redacted]/explode"
    assert "ValueError" in record["exc_info"] and "explode" in record["exc_info"]


def test_a_refused_request_is_logged_by_class_and_redacted_path(client, app_log: io.StringIO) -> None:
    response = client.get(
        "/v1/packages/secret-token-value?format=csv", headers={"X-Request-Id": "req_abcdefgh"}
    )
    assert response.status_code == 401
    (record,) = lines(app_log)
    assert record == record | {
        "message": "401 Unauthorized on GET /v1/packages/[redacted]",
        "request_id": "req_abcdefgh",
        "level": "INFO",
    }
    assert "secret-token-value" not in app_log.getvalue()


def test_scrub_removes_addresses_tokens_queries_and_full_ips() -> None:
    text = scrub(f"Error handling request /v1/packages/abc.def?x={EMAIL} for {EMAIL}; ip=203.0.113.77")
    assert text == "Error handling request /v1/packages/[redacted]?[redacted] for [email]; ip=203.0.113.0"
    assert redact_path("/v1/packages/abc.def") == "/v1/packages/[redacted]"
    assert redact_path("/v1/requests/req_1/package") == "/v1/requests/req_1/package"
