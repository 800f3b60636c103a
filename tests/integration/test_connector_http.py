"""The HTTP connector against a real HTTP server on 127.0.0.1 that checks the signature."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consent_service.config import Config
from consent_service.outbound import Policy
from consent_service.stores.connectors import ConnectorError, Deferred, connector_for
from consent_service.stores.connectors.http import HttpConnector, sign, verify_signature
from consent_service.stores.spec import parse_store
from tests.conftest import TEST_OUTBOUND_ALLOW

SECRET = "a-shared-secret-of-some-length"


class Receiver:
    """What the fake SaaS saw and how it answers ("done" or "accepted")."""

    def __init__(self) -> None:
        self.mode = "done"
        self.seen: list[dict[str, Any]] = []
        self.rejected = 0


def handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def _answer(self, status: int, doc: dict[str, Any]) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            timestamp = self.headers.get("X-Consent-Timestamp", "")
            signature = self.headers.get("X-Consent-Signature", "")
            if not verify_signature(SECRET, timestamp, body, signature):
                receiver.rejected += 1
                self._answer(401, {"error": "bad signature"})
                return
            doc = json.loads(body)
            receiver.seen.append(doc)
            if receiver.mode == "accepted":
                self._answer(202, {"status": "accepted", "reference": "job-7"})
            elif doc["operation"] == "find":
                self._answer(
                    200, {"status": "done", "records": [{"email": v, "plan": "pro"} for v in doc["values"]]}
                )
            elif doc["operation"] == "erase":
                self._answer(200, {"status": "done", "deleted": len(doc["rows"])})
            elif doc["operation"] == "rectify":
                self._answer(200, {"status": "done", "changed": 1})
            else:
                self._answer(200, {"status": "done", "checks": [{"collection": "contacts", "ok": True}]})

    return Handler


@pytest.fixture
def service() -> Iterator[tuple[str, Receiver]]:
    receiver = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_for(receiver))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/dsar", receiver
    server.shutdown()
    server.server_close()
    thread.join()


def connector(endpoint: str, secret: str = SECRET) -> HttpConnector:
    doc = {
        "type": "http",
        "connection": {"endpoint": endpoint, "secret": secret},
        "collections": {
            "contacts": {
                "identities": {"email": "email"},
                "fields": {"email": {"category": "user.contact.email", "erase": "delete"}},
            }
        },
    }
    loopback = Policy.from_config(Config(outbound_allow_networks=TEST_OUTBOUND_ALLOW))
    made = connector_for(parse_store("crm", doc), doc["connection"], outbound=loopback)
    assert isinstance(made, HttpConnector)
    return made


def test_signed_inline_answers(service: tuple[str, Receiver]) -> None:
    endpoint, receiver = service
    crm = connector(endpoint)
    assert [c.as_dict() for c in crm.check()] == [{"collection": "contacts", "ok": True}]
    assert crm.find("contacts", "email", ["anna@example.org"]) == [
        {"email": "anna@example.org", "plan": "pro"}
    ]
    result = crm.erase("contacts", [{"email": "anna@example.org"}], {"email": "delete"})
    assert (result.status, result.deleted) == ("done", 1)
    assert crm.rectify("contacts", [{"email": "a@x"}], {"email": "b@x"}) == 1
    assert [d["operation"] for d in receiver.seen] == ["check", "find", "erase", "rectify"]
    assert receiver.seen[2]["actions"] == {"email": "delete"} and receiver.seen[2]["store"] == "crm"
    assert len({d["request_id"] for d in receiver.seen}) == 4


def test_accepted_answers_defer(service: tuple[str, Receiver]) -> None:
    endpoint, receiver = service
    receiver.mode = "accepted"
    crm = connector(endpoint)
    result = crm.erase("contacts", [{"email": "anna@example.org"}], {"email": "delete"})
    assert result.status == "accepted" and result.task == {"reference": "job-7"}
    with pytest.raises(Deferred) as deferred:
        crm.find("contacts", "email", ["anna@example.org"])
    assert deferred.value.status == "accepted"


def test_a_wrong_secret_is_rejected_by_the_receiver(service: tuple[str, Receiver]) -> None:
    endpoint, receiver = service
    crm = connector(endpoint, secret="not-the-shared-secret-at-all")
    with pytest.raises(ConnectorError, match="401"):
        crm.find("contacts", "email", ["anna@example.org"])
    checks = crm.check()
    assert not checks[0].ok and "401" in (checks[0].problem or "")
    assert receiver.rejected == 2 and receiver.seen == []


def test_verify_signature_rejects_tampering_and_old_timestamps() -> None:
    body = b'{"operation":"find"}'
    now = int(time.time())
    good = sign(SECRET, str(now), body)
    assert verify_signature(SECRET, str(now), body, good)
    assert not verify_signature(SECRET, str(now), body + b" ", good)
    assert not verify_signature(SECRET, str(now + 1), body, good)
    assert not verify_signature("other-secret-000000", str(now), body, good)
    assert not verify_signature(SECRET, str(now), body, good[:-1] + ("0" if good[-1] != "0" else "1"))
    old = str(now - 301)
    assert not verify_signature(SECRET, old, body, sign(SECRET, old, body))
    assert verify_signature(SECRET, old, body, sign(SECRET, old, body), max_age_s=600)
    assert not verify_signature(SECRET, "yesterday", body, good)


def test_unreachable_endpoint_is_a_failed_check() -> None:
    checks = connector("http://127.0.0.1:1/dsar").check()
    assert len(checks) == 1 and not checks[0].ok
