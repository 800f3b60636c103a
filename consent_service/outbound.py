"""The guard on URLs the service calls out to: recipient webhooks, HTTP stores, witnesses.

A registered URL must not become a way to reach the service's own network: the cloud metadata
endpoint (169.254.169.254), loopback, link-local, private and unique-local ranges, or the
unspecified and multicast addresses. ``check_url`` refuses such a URL at registration (scheme
http or https only; the host must resolve, and every address it resolves to must be public or
inside ``CONSENT_OUTBOUND_ALLOW_NETWORKS``, a comma-separated CIDR list, empty by default).
``urlopen`` checks again when it connects: it resolves the host itself, connects only to an
address that passes, and keeps the host name for the Host header and TLS (SNI and certificate),
so a DNS answer that changed after registration (rebinding) cannot reach a refused address.
It follows no redirect and uses no proxy from the environment.

A low layer: ledger, dsar and retention may import it; it imports nothing of the service but
``config``. ``url_problem(config, url)`` is the one-call check for any other feature.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from consent_service.config import Config

SCHEMES = ("http", "https")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[IPAddress]]
SETTING = "CONSENT_OUTBOUND_ALLOW_NETWORKS"


class RefusedURL(ValueError):  # noqa: N818 - named for what it says
    """The URL may not be called; the message says why (it names no secret)."""


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """The CIDR list of the allow-list setting; ValueError naming the variable when one is bad."""
    networks = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError as exc:
            raise ValueError(f"{SETTING}: {part!r} is not a network in CIDR notation ({exc})") from None
    return tuple(networks)


def system_resolver(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (TCP); OSError when it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


@dataclass(frozen=True)
class Policy:
    """Which non-public networks may be called (none by default) and how hosts are resolved."""

    allow: tuple[IPNetwork, ...] = ()
    resolver: Resolver = system_resolver

    @classmethod
    def from_config(cls, config: Config) -> Policy:
        return cls(allow=parse_networks(config.outbound_allow_networks))

    def refusal(self, address: IPAddress) -> str | None:
        """Why ``address`` may not be called, or None when it may."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allow):
            return None
        if address.is_unspecified:
            return "the unspecified address"
        if address.is_loopback:
            return "a loopback address"
        if address.is_link_local:
            return "a link-local address (such as the cloud metadata endpoint)"
        if address.is_multicast:
            return "a multicast address"
        if isinstance(address, ipaddress.IPv6Address) and address in _UNIQUE_LOCAL:
            return "a unique-local address"
        if address.is_private or not address.is_global:
            return "a private or reserved address"
        return None


_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


def _host_port(url: str) -> tuple[str, int]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedURL(f"not a valid URL ({exc})") from None
    if parts.scheme.lower() not in SCHEMES:
        raise RefusedURL("only http:// and https:// URLs can be called")
    if not parts.hostname:
        raise RefusedURL("the URL has no host")
    return parts.hostname, port or (443 if parts.scheme.lower() == "https" else 80)


def vetted_addresses(host: str, port: int, policy: Policy) -> list[IPAddress]:
    """The addresses of ``host`` that may be called; RefusedURL when it does not resolve or
    resolves to any refused address (all must pass, so that no answer picks a refused one)."""
    try:
        addresses = policy.resolver(host, port)
    except (OSError, UnicodeError):
        raise RefusedURL(f"the host {host!r} does not resolve") from None
    if not addresses:
        raise RefusedURL(f"the host {host!r} does not resolve")
    for address in addresses:
        why = policy.refusal(address)
        if why:
            raise RefusedURL(
                f"{host!r} resolves to {why} ({address}); allow its network in {SETTING} to call it"
            )
    return addresses


def check_url(url: str, policy: Policy) -> None:
    """Raise RefusedURL unless ``url`` is http(s) and its host resolves only to callable addresses."""
    host, port = _host_port(url)
    vetted_addresses(host, port, policy)


def url_problem(config: Config, url: str) -> str | None:
    """Why the service may not call ``url`` under ``config`` (for a 422 on a field), or None."""
    try:
        check_url(url, Policy.from_config(config))
    except RefusedURL as exc:
        return str(exc)
    return None


def _guarded_connect(policy: Policy) -> Callable[..., socket.socket]:
    def create_connection(address: tuple[str, int], timeout: Any = None, source: Any = None) -> socket.socket:
        host, port = address
        last: OSError | None = None
        for ip in vetted_addresses(host, port, policy):
            try:
                return socket.create_connection((str(ip), port), timeout, source)
            except OSError as exc:
                last = exc
        raise last or OSError(f"cannot connect to {host}")

    return create_connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        policy = self.policy

        def connection(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            made = http.client.HTTPConnection(host, **kwargs)
            made._create_connection = _guarded_connect(policy)  # type: ignore[attr-defined]
            return made

        return self.do_open(connection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        policy = self.policy

        def connection(host: str, **kwargs: Any) -> http.client.HTTPSConnection:
            made = http.client.HTTPSConnection(host, **kwargs)
            made._create_connection = _guarded_connect(policy)  # type: ignore[attr-defined]
            return made

        return self.do_open(connection, req, context=self._context)  # type: ignore[attr-defined]


def opener(policy: Policy) -> urllib.request.OpenerDirector:
    """A urllib opener for http(s) only, that checks each connection's address, follows no
    redirect (a 3xx is an HTTPError) and ignores proxy variables."""
    director = urllib.request.OpenerDirector()
    handlers: Sequence[urllib.request.BaseHandler] = (
        _HTTPHandler(policy),
        _HTTPSHandler(policy),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    )
    for handler in handlers:
        director.add_handler(handler)
    return director


def urlopen(request: urllib.request.Request, policy: Policy, timeout: float) -> Any:
    """Open ``request`` like ``urllib.request.urlopen``, under ``policy``; RefusedURL (a
    ValueError) when the URL or the address it resolves to now is refused."""
    check_url(request.full_url, policy)
    return opener(policy).open(request, timeout=timeout)
