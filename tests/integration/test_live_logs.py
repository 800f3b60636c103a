"""``consent-service serve`` under gunicorn writes JSON logs with nothing personal or secret.

A request carrying a distinctive e-mail address (in the query, the body, the Referer and a
malformed X-Request-Id), User-Agent, Referer and package-link token reaches the real service on
a local port; the test reads the log the service wrote and finds none of them, but finds the
truncated client IP and the request id in the access line and in the app's record.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.integration.live import serve

pytestmark = pytest.mark.live

EMAIL = f"zelda.{secrets.token_hex(4)}@canary-mail.example"
USER_AGENT = f"CanaryBrowser/{secrets.token_hex(4)} (X11; Canary)"
REFERER = f"https://referer-{secrets.token_hex(4)}.example/signup?email={EMAIL}"
PACKAGE_TOKEN = f"eyJ{secrets.token_urlsafe(24)}.{secrets.token_hex(32)}"


def call(base: str, method: str, path: str, headers: dict[str, str], body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            error.read()
            return error.code, dict(error.headers)


@pytest.fixture
def served(tmp_path: Path):
    # The real command (`consent-service serve`), which execs gunicorn with the service's flags.
    command = [sys.executable, "-c", "from consent_service.cli import main; main()", "serve"]
    command += ["--bind", "127.0.0.1:{port}", "--workers", "1"]
    with serve(tmp_path, command, env={"CONSENT_LOG_LEVEL": "INFO"}) as live:
        yield live.base, live.token, live.log_path


def records(log_path: Path) -> list[dict[str, Any]]:
    lines = [line for line in log_path.read_text().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        parsed.append(json.loads(line))  # every line is one JSON object
    return parsed


def test_a_request_leaves_no_personal_data_or_secret_in_the_log(served) -> None:
    base, token, log_path = served
    request_id = "req-" + secrets.token_hex(8)
    tracked = {"User-Agent": USER_AGENT, "Referer": REFERER, "X-Request-Id": request_id}
    status, headers = call(
        base, "GET", f"/v1/packages/{PACKAGE_TOKEN}?format=csv&collection={EMAIL}", tracked
    )
    assert status == 401  # not a valid link, but the token was on the wire
    assert headers["X-Request-Id"] == request_id

    smuggled = {"User-Agent": USER_AGENT, "Referer": REFERER, "X-Request-Id": EMAIL}
    consent = {
        "subject": {"type": "email", "value": EMAIL},
        "decisions": [{"purpose": "newsletter", "granted": True}],
        "channel": "web_form",
        "method": "custom",
        "proof": {"ip": "198.51.100.23", "user_agent": USER_AGENT, "url": REFERER},
    }
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, headers = call(base, "POST", f"/v1/consents?ref={EMAIL}", smuggled | auth, consent)
    assert status == 201
    generated = headers["X-Request-Id"]
    assert generated != EMAIL and len(generated) == 32

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and generated not in log_path.read_text():
        time.sleep(0.1)  # the access line is written after the response
    text = log_path.read_text()
    for secret in (EMAIL, "canary-mail", USER_AGENT, "CanaryBrowser", REFERER, "referer-", PACKAGE_TOKEN):
        assert secret not in text, secret
    assert PACKAGE_TOKEN[:12] not in text and PACKAGE_TOKEN[-12:] not in text

    logged = records(log_path)
    access = [r for r in logged if r.get("logger") == "gunicorn.access"]
    package_line = next(r for r in access if r.get("request_id") == request_id)
    assert package_line["path"] == "/v1/packages/[redacted]"
    assert package_line["query"] == "[redacted]"
    assert package_line["status"] == 401
    assert package_line["client_ip"] == "127.0.0.0"  # cut to its /24 like a proof
    consent_line = next(r for r in access if r.get("request_id") == generated)
    assert consent_line["path"] == "/v1/consents" and consent_line["status"] == 201
    assert not any("127.0.0.1" in json.dumps(r) for r in access)
    app_lines = [
        r for r in logged if r.get("request_id") == request_id and r.get("logger") != "gunicorn.access"
    ]
    assert app_lines, "the app's record of the refused link names the request id"
    assert all("[redacted]" in r["message"] for r in app_lines)
