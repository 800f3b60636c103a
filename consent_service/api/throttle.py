"""The client address and the process's rate limiter, for views that limit requests.

The client address is ``request.remote_addr``: the peer, or with ``CONSENT_TRUSTED_PROXIES=N``
the address ``ProxyFix`` took from the N-th ``X-Forwarded-For`` entry from the right. Without
trusted proxies an ``X-Forwarded-For`` header is ignored, so a forged one changes nothing.
"""

from __future__ import annotations

from flask import current_app, request

from consent_service.context import Context
from consent_service.ratelimit import CACHE_KEY, MEMORY, Limiter


def client_ip() -> str:
    return request.remote_addr or "unknown"


def limiter() -> Limiter:
    """The limiter of this process for the configured storage (built on first use)."""
    context: Context = current_app.extensions["consent"]
    url = context.config.ratelimit_storage_url or MEMORY
    current = context.caches.get(CACHE_KEY)
    if current is None or current.storage_url != url:
        current = context.caches[CACHE_KEY] = Limiter(url)
    return current
