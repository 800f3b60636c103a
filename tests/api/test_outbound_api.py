"""Outbound URLs over the API: a recipient webhook or HTTP store that points at the metadata
endpoint, loopback or a private range is a 422 naming the field unless its network is in
CONSENT_OUTBOUND_ALLOW_NETWORKS; and calls are refused at connect time too (HTTP store,
webhook), before anything reaches the address."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from consent_service import create_app
from consent_service.auth.service import register_client
from consent_service.dsar import recipients
from consent_service.outbound import RefusedURL
from consent_service.stores.connectors import ConnectorError
from consent_service.stores.registry import open_connector, save_store
from consent_service.wiring import bootstrap
from tests.api.helpers import assert_problem

SECRET = "a-shared-secret-of-some-length"
HTTP_STORE = {
    "type": "http",
    "collections": {
        "contacts": {
            "identities": {"email": "email"},
            "fields": {"email": {"category": "user.contact.email"}},
        }
    },
}


@pytest.fixture
def strict(ctx: Any) -> Iterator[Any]:
    """``ctx`` (same database and keys) with the default, empty allow-list."""
    context = bootstrap(ctx.config.with_overrides(outbound_allow_networks=""))
    yield context
    context.db.dispose()


@pytest.fixture
def strict_client(strict: Any) -> tuple[Any, dict[str, str]]:
    token = register_client(strict, "dpo", ["admin"])[1]
    return create_app(context=strict).test_client(), {"Authorization": f"Bearer {token}"}


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook", hits
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "ftp://partner.test/hook",
    ],
)
def test_a_recipient_endpoint_that_may_not_be_called_is_a_422(strict_client: Any, url: str) -> None:
    client, headers = strict_client
    body = {"name": "Partner", "endpoint": url, "secret": SECRET, "events": ["erasure"]}
    problem = assert_problem(client.put("/v1/recipients/partner", headers=headers, json=body), 422)
    assert list(problem["errors"]) == ["endpoint"]
    assert client.get("/v1/recipients", headers=headers).get_json() == []


def test_an_http_store_endpoint_on_loopback_is_a_422_naming_the_field(strict_client: Any) -> None:
    client, headers = strict_client
    doc = HTTP_STORE | {"connection": {"endpoint": "http://127.0.0.1:9/dsar", "secret": SECRET}}
    problem = assert_problem(client.put("/v1/stores/crm", headers=headers, json=doc), 422)
    assert "loopback" in problem["errors"]["connection.endpoint"][0]
    assert client.get("/v1/stores", headers=headers).get_json() == []


def test_the_allow_list_lets_a_loopback_endpoint_be_registered(client: Any, admin: dict[str, str]) -> None:
    doc = HTTP_STORE | {"connection": {"endpoint": "http://127.0.0.1:9/dsar", "secret": SECRET}}
    assert client.put("/v1/stores/crm", headers=admin, json=doc).status_code == 201


def test_an_http_store_is_refused_at_connect_time_when_its_address_is_no_longer_allowed(
    ctx: Any, strict: Any, server: tuple[str, list[str]]
) -> None:
    url, hits = server
    save_store(ctx, "crm", HTTP_STORE | {"connection": {"endpoint": url, "secret": SECRET}})
    with open_connector(strict, "crm") as connector, pytest.raises(ConnectorError, match="loopback"):
        connector.find("contacts", "email", ["anna@example.org"])
    assert hits == []


def test_a_webhook_is_refused_at_connect_time_too(
    ctx: Any, strict: Any, server: tuple[str, list[str]]
) -> None:
    url, hits = server
    recipients.save_recipient(
        ctx, "partner", {"name": "P", "endpoint": url, "secret": SECRET, "events": ["erasure"]}
    )
    payload = {"recipient": "partner", "body": {"event": "erasure"}}
    with pytest.raises(RefusedURL, match="loopback"):
        recipients.send_webhook(strict, payload)
    assert hits == []
    recipients.send_webhook(ctx, payload)  # allowed where the allow-list has loopback
    assert hits == ["/hook"]
