"""The Python client (clients/python) against the real service under gunicorn: recording,
the gate and the batch gate, the event feed, errors as the client raises them, and the
signature of a consent webhook the service really sent, checked with the client's helper."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from consent_client import ApiError, ConsentClient, TransportError, verify_webhook

from tests.integration.live import Served, free_port, serve

pytestmark = pytest.mark.live

SECRET = "a-shared-secret-of-some-length"
ANNA = {"type": "email", "value": "anna@example.org"}


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("client-live")
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:{port}"]
    env = {"CONSENT_OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8"}
    with serve(folder, command + ["consent_service.wsgi:app"], env=env) as served:
        yield served


@pytest.fixture
def client(live: Served) -> ConsentClient:
    return ConsentClient(live.base, live.token)


def test_record_ask_and_withdraw(client: ConsentClient) -> None:
    recorded = client.record_consent(
        [{"purpose": "newsletter", "granted": True}, {"cookie": "_ga", "granted": False}],
        channel="web_form",
        method="custom",
        subject=ANNA,
        language="de",
        proof={"ip": "203.0.113.7", "user_agent": "Mozilla/5.0"},
    )
    assert [event["decision"] for event in recorded["events"]] == ["granted", "denied"]
    assert recorded["receipt"]["signature"]

    assert client.may("newsletter", subject=ANNA) is True
    answer = client.decide(cookie="_ga", subject_id=recorded["subject_id"])
    assert (answer["allowed"], answer["decided_by"]) == (False, "cookie")

    batch = client.decide_batch(
        "newsletter", [recorded["subject_id"], {"type": "email", "value": "nobody@example.org"}]
    )
    assert [result["allowed"] for result in batch["results"]] == [True, False]

    client.record_consent(
        [{"purpose": "newsletter", "granted": False}], channel="crm", method="api", subject=ANNA
    )
    answer = client.decide(purpose="newsletter", subject=ANNA)
    assert (answer["allowed"], answer["reason"]) == (False, "consent_withdrawn")


def test_the_feed_is_followed_to_its_end_in_seq_order(client: ConsentClient) -> None:
    for number in range(5):
        subject = {"type": "customer_id", "value": f"c-{number}"}
        client.record_consent(
            [{"purpose": "newsletter", "granted": True}], channel="crm", method="api", subject=subject
        )
    events = list(client.follow_events(limit=2, purposes=["newsletter"]))
    seqs = [event["seq"] for event in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) >= 5
    assert all(event["purpose"] == "newsletter" for event in events)
    assert list(client.follow_events(after=seqs[-1])) == []
    page = client.events(after=seqs[0], limit=1, purposes=["newsletter"])
    assert [event["seq"] for event in page["events"]] == [seqs[1]] and page["has_more"]


def test_errors_are_raised_with_the_problem_document(live: Served, client: ConsentClient) -> None:
    with pytest.raises(ApiError) as refused:
        client.record_consent([], channel="web_form", method="custom", subject=ANNA)
    assert refused.value.status == 422 and "decisions" in json.dumps(refused.value.errors)
    with pytest.raises(ApiError) as unknown:
        client.decide(purpose="no-such-purpose", subject=ANNA)
    assert unknown.value.status == 404
    with pytest.raises(ApiError) as unauthorised:
        ConsentClient(live.base, "not-a-token").may("newsletter", subject=ANNA)
    assert unauthorised.value.status == 401
    with pytest.raises(TransportError):
        ConsentClient(f"http://127.0.0.1:{free_port()}", live.token, timeout_s=2).may(
            "newsletter", subject=ANNA
        )
    with pytest.raises(ValueError, match="exactly one"):
        client.decide(purpose="newsletter", cookie="_ga", subject=ANNA)


class Receiver:
    """A real HTTP server keeping each webhook's raw body and signature headers."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
                pass

            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((body, dict(self.headers.items())))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_a_webhook_the_service_sent_verifies_and_a_changed_one_does_not(
    live: Served, client: ConsentClient
) -> None:
    receiver = Receiver()
    try:
        body = {
            "name": "CRM",
            "endpoint": receiver.url,
            "secret": SECRET,
            "events": ["consent"],
            "consent_after": 0,
        }
        request = urllib.request.Request(
            live.base + "/v1/recipients/crm",
            data=json.dumps(body).encode(),
            method="PUT",
            headers={"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status in (200, 201)
        client.record_consent(
            [{"purpose": "newsletter", "granted": True}], channel="crm", method="api", subject=ANNA
        )
        cli = [sys.executable, "-m", "consent_service.cli", "recipients", "deliver"]
        done = subprocess.run(cli, env=live.env, capture_output=True, text=True, timeout=60, cwd=Path.cwd())
        assert done.returncode == 0, done.stderr
        assert receiver.deliveries, "the service sent no webhook"
        raw, headers = receiver.deliveries[0]
        timestamp, signature = headers["X-Consent-Timestamp"], headers["X-Consent-Signature"]
        assert verify_webhook(SECRET, raw, timestamp, signature)
        assert json.loads(raw)["events"][0]["kind"] == "consent"
        assert not verify_webhook(SECRET, raw.replace(b"consent", b"cOnsent", 1), timestamp, signature)
        assert not verify_webhook("another-secret-of-length", raw, timestamp, signature)
        assert not verify_webhook(SECRET, raw, str(int(timestamp) - 3600), signature)
        assert not verify_webhook(SECRET, raw, None, signature)
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def test_a_segment_is_exported_across_pages_and_a_withdrawal_leaves_it(client: ConsentClient) -> None:
    people = [{"type": "email", "value": f"reader-{number}@example.org"} for number in range(7)]
    for person in people:
        client.record_consent(
            [{"purpose": "newsletter", "granted": True}], channel="crm", method="api", subject=person
        )
    members, feed_after = client.export_segment("newsletter", limit=3, identity="email")
    exported = {member["identity"] for member in members}
    assert {person["value"] for person in people} <= exported and feed_after > 0
    assert len(members) == len({member["subject_id"] for member in members})

    client.record_consent(
        [{"purpose": "newsletter", "granted": False}], channel="crm", method="api", subject=people[0]
    )
    assert people[0]["value"] not in {
        member["identity"] for member in client.segment("newsletter", limit=2, identity="email")
    }
    hashed = hashlib.sha256(people[0]["value"].encode()).hexdigest()
    assert hashed in client.suppressions("newsletter")
    assert hashlib.sha256(people[1]["value"].encode()).hexdigest() not in client.suppressions("newsletter")
    with pytest.raises(ApiError) as unknown:
        client.segment_page("no-such-purpose")
    assert unknown.value.status == 404


def test_a_newsletter_gets_unsubscribe_links_and_a_one_click_post_withdraws(
    live: Served, client: ConsentClient
) -> None:
    reader = {"type": "email", "value": "one-click@example.org"}
    client.record_consent(
        [{"purpose": "newsletter", "granted": True}], channel="crm", method="api", subject=reader
    )
    members, _ = client.export_segment("newsletter", identity="email", unsubscribe_links=True)
    [member] = [m for m in members if m["identity"] == reader["value"]]
    link = member["unsubscribe"]
    assert link["headers"] == {
        "List-Unsubscribe": f"<{link['url']}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    # as a mail provider's server sends it (RFC 8058): no cookie, no CSRF token, the header's body
    url = live.base + link["url"][link["url"].index("/privacy/unsubscribe") :]
    request = urllib.request.Request(
        url,
        data=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the live test server
        assert answer.status == 200
    decision = client.decide(purpose="newsletter", subject=reader)
    assert (decision["allowed"], decision["reason"]) == (False, "consent_withdrawn")
    assert reader["value"] not in {m["identity"] for m in client.segment("newsletter", identity="email")}


def test_the_python_recipe_of_the_docs_runs(live: Served, client: ConsentClient, capsys) -> None:
    source = (Path(__file__).resolve().parents[2] / "docs" / "crm-sync.md").read_text()
    [block] = re.findall(r"^```python\n(.*?)^```", source, re.S | re.M)
    client.record_consent(
        [{"purpose": "newsletter", "granted": True}], channel="crm", method="api", subject=ANNA
    )
    exec(compile(block, "docs/crm-sync.md", "exec"), {"BASE_URL": live.base, "TOKEN": live.token})  # noqa: S102
    printed = capsys.readouterr().out
    assert "may be mailed;" in printed


def test_a_receipt_fetched_again_carries_its_proof_and_verifies_offline(
    live: Served, client: ConsentClient
) -> None:
    """The served process's ledger thread puts the write into a checkpoint on its own (no poll
    is waited for: it wakes on the write); the client fetches the receipt again by its id."""
    import time

    from consent_verify import note
    from consent_verify.receipt import verify

    recorded = client.record_consent(
        [{"purpose": "newsletter", "granted": True}], channel="crm", method="api", subject=ANNA
    )
    receipt_id = recorded["receipt"]["payload"]["consentReceiptID"]
    deadline = time.monotonic() + 10
    again = client.receipt(receipt_id)
    while again["inclusion"] is None and time.monotonic() < deadline:
        time.sleep(0.1)
        again = client.receipt(receipt_id)
    assert again["payload"] == recorded["receipt"]["payload"]
    with urllib.request.urlopen(live.base + "/v1/ledger/key", timeout=10) as response:
        log_key = note.parse_verifier_key(response.read().decode().strip())
    report = verify(again, log_key)
    assert report.ok, [(c.name, c.detail) for c in report.failures]
    assert again["inclusion"]["leaves"][0]["eventId"] == recorded["events"][0]["id"]
