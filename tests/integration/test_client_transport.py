"""The Python client's transport against a real local HTTP server: a read is sent again after
429 or 503 (after Retry-After), recording consent never is, and an answer that is not a problem
document still raises a readable ApiError; its webhook signature is the service's."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from consent_client import ApiError, ConsentClient, signature, verify_webhook

from consent_service.stores.connectors.http import sign


class Script:
    def __init__(self, answers: list[tuple[int, dict[str, str], bytes]]) -> None:
        self.answers = answers
        self.requests: list[tuple[str, str, bytes]] = []


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script([])

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            script.requests.append((self.command, self.path, self.rfile.read(length)))
            status, headers, body = script.answers.pop(0)
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = answer  # noqa: N815 - the stdlib's names

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", script
    httpd.shutdown()
    httpd.server_close()


BUSY = (
    429,
    {"Retry-After": "0", "Content-Type": "application/problem+json"},
    b'{"status": 429, "title": "Too many"}',
)
DECISION = {
    "allowed": True,
    "reason": "consent_granted",
    "legal_basis": "consent",
    "event_id": "e",
    "valid_until": None,
}


def test_a_gate_question_is_asked_again_after_429(server) -> None:
    url, script = server
    script.answers += [BUSY, (200, {"Content-Type": "application/json"}, json.dumps(DECISION).encode())]
    assert ConsentClient(url, "t").may("newsletter", subject_id="sub_1") is True
    assert [request[:2] for request in script.requests] == [("POST", "/v1/decisions")] * 2


def test_recording_is_not_sent_twice_and_retries_are_bounded(server) -> None:
    url, script = server
    script.answers += [BUSY]
    with pytest.raises(ApiError) as busy:
        ConsentClient(url, "t").record_consent(
            [{"purpose": "p", "granted": True}], channel="api", method="api", subject_id="s"
        )
    assert busy.value.status == 429 and len(script.requests) == 1
    script.answers += [BUSY, BUSY, BUSY]
    with pytest.raises(ApiError):
        ConsentClient(url, "t", retries=2).events()
    assert len(script.requests) == 4  # one recording, then a read sent three times


def test_a_long_retry_after_is_not_waited_for(server) -> None:
    url, script = server
    script.answers += [(503, {"Retry-After": "3600"}, b"down for maintenance")]
    with pytest.raises(ApiError) as down:
        ConsentClient(url, "t").events(after=5, purposes=["a", "b"])
    assert (down.value.status, down.value.detail) == (503, "down for maintenance")
    assert script.requests[0][1] == "/v1/events?after=5&limit=100&purpose=a%2Cb"


def test_the_clients_webhook_signature_is_the_services() -> None:
    body = b'{"event": "consent", "events": []}'
    assert signature("s" * 20, "1700000000", body) == sign("s" * 20, "1700000000", body)
    assert verify_webhook("s" * 20, body, "1700000000", sign("s" * 20, "1700000000", body), now=1700000100)
    assert not verify_webhook(
        "s" * 20, body, "1700000000", sign("s" * 20, "1700000000", body), now=1700000400
    )
    assert not verify_webhook("s" * 20, body, "soon", "sha256=00")


def test_a_base_url_must_be_http() -> None:
    with pytest.raises(ValueError, match="http"):
        ConsentClient("consent.example", "t")
