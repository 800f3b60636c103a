"""The outbound-URL guard at connect time, against a real HTTP server on 127.0.0.1 (on this
machine only): a name that resolved to a public address when checked and to loopback when it
connects is refused, the vetted address is the one connected to, redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consent_service.outbound import Policy, RefusedURL, parse_networks, urlopen
from tests.unit.test_outbound import PUBLIC, resolving_to


@pytest.fixture
def local_server() -> Iterator[tuple[int, list[str]]]:
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            seen.append(self.headers.get("Host", ""))
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            else:
                self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()
    thread.join()


def post(url: str) -> urllib.request.Request:
    return urllib.request.Request(url, data=b"{}", method="POST")


def test_the_address_is_checked_again_at_connect_time(local_server: tuple[int, list[str]]) -> None:
    port, seen = local_server
    answers = iter([[ipaddress.ip_address(PUBLIC)], [ipaddress.ip_address("127.0.0.1")]])

    def rebinding(host: str, port: int) -> list[Any]:
        return next(answers)  # public when the URL is checked, loopback when it connects

    with pytest.raises(RefusedURL, match="loopback"):
        urlopen(post(f"http://rebind.test:{port}/"), Policy(resolver=rebinding), timeout=5)
    assert seen == []  # nothing reached the server


def test_the_connection_goes_to_the_vetted_address_with_the_host_name_kept(
    local_server: tuple[int, list[str]],
) -> None:
    port, seen = local_server
    policy = Policy(allow=parse_networks("127.0.0.0/8"), resolver=resolving_to("127.0.0.1"))
    with urlopen(post(f"http://hooks.partner.test:{port}/"), policy, timeout=5) as response:
        assert response.status == 200
    assert seen == [f"hooks.partner.test:{port}"]


def test_a_redirect_is_not_followed(local_server: tuple[int, list[str]]) -> None:
    port, seen = local_server
    policy = Policy(allow=parse_networks("127.0.0.0/8"))
    with pytest.raises(urllib.error.HTTPError) as raised:
        urlopen(post(f"http://127.0.0.1:{port}/redirect"), policy, timeout=5)
    raised.value.close()
    assert raised.value.code == 302 and len(seen) == 1
