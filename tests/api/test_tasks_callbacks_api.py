"""Manual tasks and signed HTTP-store callbacks, over the API: a manual store's pending run
becomes a task a DPO closes with a note; an HTTP store (a real server on 127.0.0.1) that
answers "accepted" later posts a signed callback that completes its run and the request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from consent_service.stores.connectors.http import sign, verify_signature
from tests.api.helpers import assert_problem, crm_store

SECRET = "callback-secret-of-some-length"

MANUAL = {
    "type": "manual",
    "connection": {"assignee": "archive@example.org", "due_days": 3},
    "collections": {
        "paper": {
            "identities": {"email": "email"},
            "instructions": "Shred the paper forms",
            "fields": {"email": {"category": "user.contact.email"}},
        }
    },
}


def http_store(endpoint: str) -> dict[str, Any]:
    return {
        "type": "http",
        "connection": {"endpoint": endpoint, "secret": SECRET},
        "collections": {
            "contacts": {
                "identities": {"email": "email"},
                "fields": {"email": {"category": "user.contact.email", "erase": "delete"}},
            }
        },
    }


class Accepting:
    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []


@pytest.fixture
def saas() -> Iterator[tuple[str, Accepting]]:
    """A real HTTP store that checks the signature and answers every operation "accepted"."""
    state = Accepting()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ok = verify_signature(
                SECRET, self.headers["X-Consent-Timestamp"], body, self.headers["X-Consent-Signature"]
            )
            state.seen.append(json.loads(body))
            answer = json.dumps({"status": "accepted", "reference": "job-1"} if ok else {}).encode()
            self.send_response(202 if ok else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/dsar", state
    server.shutdown()
    server.server_close()
    thread.join()


def open_verified(client: Any, headers: dict[str, str], kind: str) -> str:
    body = {
        "type": kind,
        "identities": [{"type": "email", "value": "anna@example.org"}],
        "verification": {"method": "dpo", "note": "seen in person"},
    }
    created = client.post("/v1/requests", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"]


def run_now(ctx: Any, request_id: str) -> dict[str, Any]:
    """Run the request as the worker does (``/retry`` only queues it)."""
    from consent_service.dsar import execution

    return execution.run_request(ctx, request_id, actor="dpo")


def signed(
    body: dict[str, Any], secret: str = SECRET, at: float | None = None
) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time() if at is None else at))
    return raw, {
        "Content-Type": "application/json",
        "X-Consent-Timestamp": timestamp,
        "X-Consent-Signature": sign(secret, timestamp, raw),
    }


def test_a_manual_erasure_completes_only_when_its_task_is_closed(
    ctx: Any, client: Any, admin: dict[str, str], demo: Any, tmp_path: Path
) -> None:
    url = crm_store(client, admin, tmp_path)
    assert client.put("/v1/stores/archive", headers=admin, json=MANUAL).status_code == 201
    request_id = open_verified(client, admin, "erasure")
    run = run_now(ctx, request_id)
    assert run["request"]["state"] == "in_progress" and run["pending"] == ["archive"]

    tasks = client.get(f"/v1/requests/{request_id}/tasks", headers=admin).get_json()
    assert len(tasks) == 1 and tasks[0]["state"] == "open" and tasks[0]["store"] == "archive"
    assert "Shred the paper forms" in tasks[0]["instructions"] and tasks[0]["due_at"]
    # a re-run while the task is open neither completes nor opens a second task
    again = run_now(ctx, request_id)
    assert again["request"]["state"] == "in_progress"
    assert len(client.get(f"/v1/requests/{request_id}/tasks", headers=admin).get_json()) == 1

    task_id = tasks[0]["id"]
    assert_problem(
        client.post(f"/v1/requests/{request_id}/tasks/{task_id}/complete", headers=admin, json={}), 422
    )
    assert_problem(
        client.post(f"/v1/requests/{request_id}/tasks/{task_id}/complete", headers=admin, json={"note": " "}),
        422,
    )
    assert_problem(
        client.post(f"/v1/requests/{request_id}/tasks/task_nope/complete", headers=admin, json={"note": "x"}),
        404,
    )
    done = client.post(
        f"/v1/requests/{request_id}/tasks/{task_id}/complete",
        headers=admin,
        json={"note": "forms shredded on 3 March"},
    )
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["task"]["state"] == "done" and done.get_json()["request"]["state"] == "completed"
    shown = client.get(f"/v1/requests/{request_id}", headers=admin).get_json()
    actions = [e["action"] for e in shown["audit_trail"]]
    assert "task_completed" in actions and shown["audit_trail_ok"]
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM customers")).scalar() == 0
    engine.dispose()
    assert_problem(
        client.post(f"/v1/requests/{request_id}/tasks/{task_id}/complete", headers=admin, json={"note": "x"}),
        409,
    )


def test_a_request_never_completes_while_a_task_is_open(ctx: Any, client: Any, admin: dict[str, str]) -> None:
    from consent_service.dsar import execution
    from consent_service.errors import Conflict

    assert client.put("/v1/stores/archive", headers=admin, json=MANUAL).status_code == 201
    request_id = open_verified(client, admin, "access")
    run_now(ctx, request_id)
    with pytest.raises(Conflict, match="task"):
        execution._finish(ctx, request_id, "dpo", "completed", "forced")
    assert client.get(f"/v1/requests/{request_id}", headers=admin).get_json()["state"] == "in_progress"


def test_tasks_need_the_dsar_scope(client: Any, token: Any) -> None:
    headers = {"Authorization": f"Bearer {token('consent:write')}"}
    assert_problem(client.get("/v1/requests/req_x/tasks", headers=headers), 403)
    assert_problem(
        client.post("/v1/requests/req_x/tasks/t/complete", json={"note": "x"}, headers=headers), 403
    )


def test_an_accepted_access_completes_with_a_signed_callback(
    ctx: Any, client: Any, admin: dict[str, str], saas: tuple[str, Accepting]
) -> None:
    endpoint, state = saas
    assert client.put("/v1/stores/crm", headers=admin, json=http_store(endpoint)).status_code == 201
    request_id = open_verified(client, admin, "access")
    run = run_now(ctx, request_id)
    assert run["request"]["state"] == "in_progress" and run["pending"] == ["crm"]
    assert state.seen and state.seen[0]["operation"] == "find"
    assert not client.get(f"/v1/requests/{request_id}/tasks", headers=admin).get_json()  # not a manual store

    body = {
        "request_id": request_id,
        "status": "done",
        "records": [{"collection": "contacts", "email": "anna@example.org", "plan": "pro"}],
    }
    raw, headers = signed(body)
    tampered = raw.replace(b"pro", b"free")
    assert_problem(client.post("/v1/stores/crm/callback", data=tampered, headers=headers), 401)
    stale_raw, stale = signed(body, at=time.time() - 3600)
    assert_problem(client.post("/v1/stores/crm/callback", data=stale_raw, headers=stale), 401)
    wrong_raw, wrong = signed(body, secret="another-secret-entirely")
    assert_problem(client.post("/v1/stores/crm/callback", data=wrong_raw, headers=wrong), 401)
    assert_problem(client.post("/v1/stores/nope/callback", data=raw, headers=headers), 401)
    assert client.get(f"/v1/requests/{request_id}", headers=admin).get_json()["state"] == "in_progress"
    assert_problem(client.get(f"/v1/requests/{request_id}/package", headers=admin), 404)

    answer = client.post("/v1/stores/crm/callback", data=raw, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["state"] == "completed"
    package = client.get(f"/v1/requests/{request_id}/package", headers=admin).get_json()
    assert package["stores"]["crm"]["contacts"] == [{"email": "anna@example.org", "plan": "pro"}]
    assert_problem(client.post("/v1/stores/crm/callback", data=raw, headers=headers), 409)


def test_an_accepted_erasure_callback_records_the_report_and_shreds(
    ctx: Any, client: Any, admin: dict[str, str], demo: Any, saas: tuple[str, Accepting]
) -> None:
    endpoint, _ = saas
    assert client.put("/v1/stores/crm", headers=admin, json=http_store(endpoint)).status_code == 201
    request_id = open_verified(client, admin, "erasure")
    assert run_now(ctx, request_id)["pending"] == ["crm"]
    bad_raw, bad = signed({"request_id": request_id, "status": "maybe"})
    assert_problem(client.post("/v1/stores/crm/callback", data=bad_raw, headers=bad), 422)
    raw, headers = signed({"request_id": request_id, "status": "done", "report": {"deleted": 2}})
    assert (
        client.post("/v1/stores/crm/callback", data=raw, headers=headers).get_json()["state"] == "completed"
    )
    report = client.get(f"/v1/requests/{request_id}/report", headers=admin).get_json()
    assert report[0]["store"] == "crm" and report[0]["report"]["deleted"] == 2
    shown = client.get(f"/v1/requests/{request_id}", headers=admin).get_json()
    assert not isinstance(shown["identities"], list)  # the subject was crypto-shredded


def test_a_failed_callback_fails_the_request(
    ctx: Any, client: Any, admin: dict[str, str], saas: tuple[str, Accepting]
) -> None:
    endpoint, _ = saas
    client.put("/v1/stores/crm", headers=admin, json=http_store(endpoint))
    request_id = open_verified(client, admin, "erasure")
    run_now(ctx, request_id)
    raw, headers = signed({"request_id": request_id, "status": "failed", "error": "account locked"})
    assert client.post("/v1/stores/crm/callback", data=raw, headers=headers).get_json()["state"] == "failed"
