"""Bearer-token authentication and scope checks for API views."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request

from consent_service.auth.service import Principal, principal_for_token
from consent_service.context import Context
from consent_service.errors import Forbidden, Unauthorized

F = TypeVar("F", bound=Callable[..., Any])


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
            who = principal_for_token(ctx(), token.strip())
            if who is None:
                raise Unauthorized("the token is unknown or revoked")
            if not who.has(scope):
                raise Forbidden(f"this client lacks the scope {scope!r}")
            g.principal = who
            return view(*args, **kwargs)

        wrapper._required_scope = scope  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorator
