"""Bearer-token authentication and scope checks for API views.

Failed attempts (an unknown or revoked token) are counted per client IP; once an address made
``CONSENT_AUTH_FAILURE_LIMIT`` of them in a minute, every bearer request from it answers 429
with ``Retry-After`` until the window ends, correct tokens included: otherwise a correct guess
would be told apart from a throttled wrong one and the throttle would not slow guessing.
Successful requests are not counted.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from consent_service.api import throttle
from consent_service.auth.service import Principal, principal_for_token
from consent_service.context import Context
from consent_service.errors import Forbidden, RateLimited, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])
AUTH_FAILURES = "auth-failures"


def ctx() -> Context:
    return current_app.extensions["consent"]


def principal() -> Principal:
    return g.principal


def require(scope: str) -> Callable[[F], F]:
    """Reject the request with 401 (no or bad token) or 403 (token without ``scope``)."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("send 'Authorization: Bearer <token>'")
            limit, ip = ctx().config.auth_failure_limit, throttle.client_ip()
            wait = throttle.limiter().blocked(AUTH_FAILURES, limit, ip)
            if wait is not None:  # every token, right or wrong: else a right guess would stand out
                raise RateLimited("too many failed token attempts from this address", retry_after=wait)
            who = principal_for_token(ctx(), token.strip())
            if who is None:
                throttle.limiter().hit(AUTH_FAILURES, limit, ip)
                raise Unauthorized("the token is unknown or revoked")
            if not who.has(scope):
                raise Forbidden(f"this client lacks the scope {scope!r}")
            g.principal = who
            return view(*args, **kwargs)

        wrapper._required_scope = scope  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
