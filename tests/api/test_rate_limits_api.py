"""Rate limits: shared by two app instances (two worker processes) through a real Redis, keyed
on the client behind trusted proxies and deaf to a forged X-Forwarded-For without them, and
failed bearer-token attempts throttled per client IP.

Each test keys its requests on random documentation addresses (2001:db8::/32), so that runs
sharing the test Redis never count against each other.
"""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from consent_service import create_app
from consent_service.errors import ConfigurationError
from consent_service.preferences import service as prefs
from consent_service.ratelimit import limiter_of
from consent_service.wiring import bootstrap
from tests.api.helpers import ask_for_link, assert_problem
from tests.api.test_public_api import banner
from tests.conftest import server_url


def random_ip() -> str:
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def post_consent(client: Any, demo: Any, ip: str, n: int, headers: dict[str, str] | None = None) -> int:
    subject = {"type": "device_id", "value": f"dev-{n}"}
    client.environ_base["REMOTE_ADDR"] = ip
    return banner(client, demo["site"], subject=subject, headers=headers).status_code


def test_two_processes_share_one_public_limit_through_redis(ctx: Any, demo: Any) -> None:
    config = ctx.config.with_overrides(ratelimit_storage_url=server_url("redis"), public_rate_limit=3)
    first = create_app(context=bootstrap(config)).test_client()
    second = create_app(context=bootstrap(config)).test_client()  # a second worker process
    ip = random_ip()
    statuses = [post_consent(client, demo, ip, n) for n, client in enumerate([first, second, first, second])]
    assert statuses == [201, 201, 201, 429]
    assert post_consent(second, demo, random_ip(), 9) == 201  # another client is not limited


def test_two_processes_share_the_failed_token_count_through_redis(ctx: Any) -> None:
    config = ctx.config.with_overrides(ratelimit_storage_url=server_url("redis"), auth_failure_limit=2)
    ip = random_ip()
    clients = [create_app(context=bootstrap(config)).test_client() for _ in range(2)]
    wrong = {"Authorization": "Bearer cs_wrong"}
    statuses = [
        c.get("/v1/purposes", headers=wrong, environ_base={"REMOTE_ADDR": ip}).status_code
        for c in clients * 2
    ]
    assert statuses == [401, 401, 429, 429]


def test_memory_storage_counts_per_process(ctx: Any, demo: Any) -> None:
    config = ctx.config.with_overrides(public_rate_limit=2)
    first = create_app(context=bootstrap(config)).test_client()
    second = create_app(context=bootstrap(config)).test_client()
    ip = random_ip()
    assert [post_consent(first, demo, ip, n) for n in range(3)] == [201, 201, 429]
    assert post_consent(second, demo, ip, 3) == 201  # documented: memory:// is per process


def test_behind_a_trusted_proxy_the_limit_keys_on_the_forwarded_client(ctx: Any, demo: Any) -> None:
    config = ctx.config.with_overrides(trusted_proxies=1, public_rate_limit=2)
    client = create_app(context=bootstrap(config)).test_client()
    proxy, anna, bert = random_ip(), random_ip(), random_ip()
    as_anna = {"X-Forwarded-For": anna}
    assert [post_consent(client, demo, proxy, n, as_anna) for n in range(3)] == [201, 201, 429]
    assert post_consent(client, demo, proxy, 4, {"X-Forwarded-For": bert}) == 201  # same proxy, other client


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(ctx: Any, demo: Any) -> None:
    config = ctx.config.with_overrides(public_rate_limit=2)
    client = create_app(context=bootstrap(config)).test_client()
    ip = random_ip()
    statuses = [post_consent(client, demo, ip, n, {"X-Forwarded-For": random_ip()}) for n in range(3)]
    assert statuses == [201, 201, 429]


def test_failed_tokens_from_one_address_are_throttled_then_every_token_waits(ctx: Any, token: Any) -> None:
    config = ctx.config.with_overrides(auth_failure_limit=3)
    client = create_app(context=bootstrap(config)).test_client()
    good = {"Authorization": f"Bearer {token('admin')}"}
    attacker, other = {"REMOTE_ADDR": random_ip()}, {"REMOTE_ADDR": random_ip()}
    for _ in range(10):  # successful requests are never counted
        assert client.get("/v1/purposes", headers=good, environ_base=attacker).status_code == 200
    for n in range(3):
        wrong = {"Authorization": f"Bearer cs_guess{n}"}
        assert client.get("/v1/purposes", headers=wrong, environ_base=attacker).status_code == 401
    throttled = assert_problem(
        client.get("/v1/purposes", headers={"Authorization": "Bearer cs_x"}, environ_base=attacker), 429
    )
    assert "failed token attempts" in throttled["detail"]
    right = client.get("/v1/purposes", headers=good, environ_base=attacker)
    assert_problem(right, 429)  # a right token waits too: a right guess must not stand out
    assert 0 < int(right.headers["Retry-After"]) <= 60
    assert client.get("/v1/purposes", headers=good, environ_base=other).status_code == 200


def test_an_unreachable_limit_storage_lets_requests_through(ctx: Any, demo: Any) -> None:
    config = ctx.config.with_overrides(ratelimit_storage_url="redis://127.0.0.1:1/0", public_rate_limit=1)
    client = create_app(context=bootstrap(config)).test_client()
    ip = random_ip()
    assert [post_consent(client, demo, ip, n) for n in range(2)] == [201, 201]


def test_an_unsupported_storage_url_fails_at_start() -> None:
    from consent_service.config import Config

    with pytest.raises(ConfigurationError, match="CONSENT_RATELIMIT_STORAGE_URL"):
        bootstrap(Config(ratelimit_storage_url="mongodb://x"))


def test_two_processes_share_the_portals_limit_per_address_through_redis(ctx: Any, demo: Any) -> None:
    import re

    config = ctx.config.with_overrides(ratelimit_storage_url=server_url("redis"), portal_email_limit=1)
    clients = [create_app(context=bootstrap(config)).test_client() for _ in range(2)]
    address = f"limit-{secrets.token_hex(4)}@example.org"
    statuses = []
    for client in clients:
        client.environ_base["REMOTE_ADDR"] = random_ip()  # two people's addresses: only the e-mail is shared
        page = client.get("/privacy/requests/new").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert csrf
        data = {"csrf_token": csrf.group(1), "type": "access", "email": address}
        statuses.append(client.post("/privacy/requests/new", data=data).status_code)
    assert statuses == [303, 429]


def test_two_processes_share_the_sign_in_limits_of_the_preference_centre(ctx: Any) -> None:
    config = ctx.config.with_overrides(ratelimit_storage_url=server_url("redis"))
    clients = [create_app(context=bootstrap(config)).test_client() for _ in range(2)]
    address, ip = f"reader-{secrets.token_hex(4)}@example.org", random_ip()
    statuses = [ask_for_link(c, address, environ_base={"REMOTE_ADDR": ip}).status_code for c in clients * 2]
    assert statuses == [200] * prefs.SIGNIN_PER_ADDRESS + [429] * (4 - prefs.SIGNIN_PER_ADDRESS)
    hourly = limiter_of(bootstrap(config))
    key = f"test-{secrets.token_hex(4)}"
    assert hourly.hit_hourly("preferences-test-hourly", 1, key) is None
    wait = hourly.hit_hourly("preferences-test-hourly", 1, key)
    assert wait is not None and wait > 60  # an hour's window, in Redis
