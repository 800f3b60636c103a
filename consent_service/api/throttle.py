"""The client address and the process's rate limiter, for views that limit requests.

The client address is ``request.remote_addr``: the peer, or with ``CONSENT_TRUSTED_PROXIES=N``
the address ``ProxyFix`` took from the N-th ``X-Forwarded-For`` entry from the right. Without
trusted proxies an ``X-Forwarded-For`` header is ignored, so a forged one changes nothing.
"""

from __future__ import annotations

from flask import current_app, request

from consent_service.ratelimit import Limiter, limiter_of


def client_ip() -> str:
    return request.remote_addr or "unknown"


def limiter() -> Limiter:
    """The limiter of this process for the configured storage (built on first use)."""
    return limiter_of(current_app.extensions["consent"])
