"""Under gunicorn, as a client on the network sends it: chunked bodies and undecodable paths.

gunicorn frames chunked bodies itself (``wsgi.input_terminated``), which the test client only
imitates; this checks the boundary with the real server in front.
"""

from __future__ import annotations

import http.client
import json
import sys
from pathlib import Path

import pytest

from tests.api.helpers import consent_body
from tests.integration.live import Served, serve

pytestmark = pytest.mark.live


@pytest.fixture
def live(tmp_path: Path):
    command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", "127.0.0.1:{port}"]
    with serve(tmp_path, command + ["consent_service.wsgi:app"]) as served:
        yield served


def send(live: Served, method: str, path: str, body: bytes | None = None, chunked: bool = False):
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    headers = {"Authorization": f"Bearer {live.token}", "Content-Type": "application/json"}
    if chunked:
        headers["Transfer-Encoding"] = "chunked"

        def chunks():
            for start in range(0, len(body or b""), 8192):
                yield (body or b"")[start : start + 8192]

        connection.request(method, path, body=chunks(), headers=headers, encode_chunked=True)
    else:
        connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, response.getheader("Content-Type"), payload


def test_a_chunked_body_over_the_limit_is_413_and_one_within_it_is_recorded(live):
    big = json.dumps(consent_body(proof={"user_agent": "x" * 70_000})).encode()
    status, content_type, payload = send(live, "POST", "/v1/consents", big, chunked=True)
    assert (status, content_type) == (413, "application/problem+json"), payload
    assert "65536" in json.loads(payload)["detail"]
    status, _, payload = send(live, "POST", "/v1/consents", json.dumps(consent_body()).encode(), chunked=True)
    assert status == 201, payload


def test_an_undecodable_path_is_422_not_a_mangled_key(live):
    cookie = {"domain": "shop.example", "provider": "Shop", "duration": "P1D", "purpose": "analytics"}
    status, content_type, _ = send(live, "PUT", "/v1/cookies/%ED%A0%80", json.dumps(cookie).encode())
    assert (status, content_type) == (422, "application/problem+json")
    status, _, _ = send(live, "POST", "/v1/consents", b'{"subject": {"type": "email", "value": "\\ud800"}}')
    assert status == 422
