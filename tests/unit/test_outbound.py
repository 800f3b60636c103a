"""The outbound-URL guard: schemes, refused address ranges, the allow-list, and the check at
connect time (a name that resolved to a public address at registration and to loopback now).

The resolver is injected, so no DNS is asked; the connect-time tests, which call a real HTTP
server on 127.0.0.1, are in tests/integration/test_outbound_connect.py.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from consent_service.config import Config
from consent_service.config_checks import check_network_settings
from consent_service.errors import ConfigurationError
from consent_service.outbound import Policy, RefusedURL, check_url, parse_networks, url_problem

PUBLIC = "93.184.215.14"  # a public address (never connected to in these tests)


def resolving_to(*addresses: str) -> Any:
    def resolve(host: str, port: int) -> list[Any]:
        return [ipaddress.ip_address(a) for a in addresses]

    return resolve


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "169.254.169.254",
        "fe80::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "fd12:3456::1",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
    ],
)
def test_non_public_addresses_are_refused_by_default(address: str) -> None:
    with pytest.raises(RefusedURL, match="CONSENT_OUTBOUND_ALLOW_NETWORKS"):
        check_url("https://hooks.partner.test/x", Policy(resolver=resolving_to(address)))


def test_a_public_address_passes() -> None:
    check_url("https://hooks.partner.test/x", Policy(resolver=resolving_to(PUBLIC)))


def test_one_refused_answer_among_several_refuses_the_host() -> None:
    with pytest.raises(RefusedURL, match="loopback"):
        check_url("https://a.test/", Policy(resolver=resolving_to(PUBLIC, "127.0.0.1")))


@pytest.mark.parametrize(
    "url", ["ftp://a.test/x", "file:///etc/passwd", "gopher://a.test/", "https:///nohost"]
)
def test_only_http_and_https_urls_with_a_host(url: str) -> None:
    with pytest.raises(RefusedURL):
        check_url(url, Policy(resolver=resolving_to(PUBLIC)))


def test_the_allow_list_lets_listed_networks_through_and_nothing_else() -> None:
    allow = parse_networks("127.0.0.0/8, 10.0.0.0/8")
    check_url("http://127.0.0.1:8080/", Policy(allow=allow))
    check_url("http://10.9.8.7/", Policy(allow=allow))
    with pytest.raises(RefusedURL):
        check_url("http://169.254.169.254/latest/meta-data/", Policy(allow=allow))
    with pytest.raises(RefusedURL):
        check_url("http://192.168.0.1/", Policy(allow=allow))


def test_a_host_that_does_not_resolve_is_refused() -> None:
    def fail(host: str, port: int) -> list[Any]:
        raise OSError("Name or service not known")

    with pytest.raises(RefusedURL, match="does not resolve"):
        check_url("https://nowhere.test/", Policy(resolver=fail))


def test_url_problem_reads_the_setting() -> None:
    assert "loopback" in (url_problem(Config(), "http://127.0.0.1/") or "")
    assert url_problem(Config(outbound_allow_networks="127.0.0.0/8"), "http://127.0.0.1/") is None
    assert url_problem(Config(), "ftp://127.0.0.1/") is not None


def test_a_bad_allow_list_fails_at_start_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="CONSENT_OUTBOUND_ALLOW_NETWORKS"):
        check_network_settings(Config(outbound_allow_networks="10.0.0.0/8,not-a-net"))
    assert (
        Config.from_env({"CONSENT_OUTBOUND_ALLOW_NETWORKS": "10.0.0.0/8"}).outbound_allow_networks
        == "10.0.0.0/8"
    )
