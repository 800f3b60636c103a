"""The service under gunicorn with 2 worker processes: a shred stops decryption in every worker."""

from __future__ import annotations

import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.live import serve

pytestmark = pytest.mark.live


class Live:
    def __init__(self, base: str, token: str) -> None:
        self.base, self.token = base, token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any], dict[str, str]]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read()), dict(response.headers)
        except urllib.error.HTTPError as error:
            with error:
                return error.code, json.loads(error.read()), dict(error.headers)


@pytest.fixture
def live(tmp_path: Path):
    command = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", "127.0.0.1:{port}"]
    command += [
        "--access-logfile",
        "-",
        "--access-logformat",
        "pid=%(p)s %(r)s %(s)s",
        "consent_service.wsgi:app",
    ]
    with serve(tmp_path, command, log_name="gunicorn.log") as served:
        yield Live(served.base, served.token)


def test_a_shred_stops_decryption_in_every_worker_at_once(live, tmp_path):
    status, body, _ = live.call(
        "POST",
        "/v1/consents",
        {
            "subject": {"type": "email", "value": "anna@example.org"},
            "decisions": [{"purpose": "newsletter", "granted": True}],
            "channel": "web_form",
            "method": "custom",
            "proof": {"ip": "198.51.100.23", "user_agent": "UA/1"},
        },
    )
    assert status == 201
    subject_id = body["subject_id"]
    status, sealed, _ = live.call(
        "POST", "/v1/vault/encrypt", {"subject_id": subject_id, "field": "email", "value": "anna@example.org"}
    )
    vault_token = sealed["token"]

    log = tmp_path / "gunicorn.log"

    def workers_serving(path: str, after_line: int) -> set[str]:
        lines = log.read_text().splitlines()[after_line:]
        return {line.split()[0] for line in lines if line.startswith("pid=") and path in line}

    def reads() -> tuple[set[str], set[int]]:
        """Read until both workers have answered both paths (the kernel picks the worker)."""
        start = len(log.read_text().splitlines())
        values, statuses = set(), set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for _ in range(10):
                _, history, _ = live.call("GET", f"/v1/subjects/{subject_id}/history")
                values.add(history["identities"][0]["value"])
                status, _, _ = live.call(
                    "POST", "/v1/vault/decrypt", {"token": vault_token, "purpose": "newsletter"}
                )
                statuses.add(status)
            both = [workers_serving(p, start) for p in ("/history", "/v1/vault/decrypt")]
            if all(len(pids) == 2 for pids in both):
                return values, statuses
        raise AssertionError(f"both workers never answered within 30 s: {both}")

    # Both workers read (and cache) the subject's key ...
    assert reads() == ({"anna@example.org"}, {200})

    status, _, _ = live.call("POST", f"/v1/subjects/{subject_id}/shred")
    assert status == 200
    # ... and after the shred in one of them, neither can decrypt any more.
    assert reads() == ({"[erased]"}, {410})
    status, decision, _ = live.call(
        "POST", "/v1/decisions", {"subject_id": subject_id, "purpose": "newsletter"}
    )
    assert decision["reason"] == "erased"
