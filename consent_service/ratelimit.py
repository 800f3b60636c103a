"""Rate limits shared by every process of a deployment, on the ``limits`` library.

``Limiter`` counts hits per (limit name, key) in fixed one-minute windows (``hit_hourly``: one
hour; ``hit_windows``: a minute, an hour and a day at once) in the storage of ``CONSENT_RATELIMIT_STORAGE_URL``: ``memory://`` (the default) counts in
this process only, so with several gunicorn workers each has its own count;
``redis://host:port/db`` (or ``rediss://``) shares the counts between all processes and machines that use that Redis.
A storage that cannot be reached lets the request through and logs a warning: a Redis outage
must not take the banner or the API down with it.

A low layer without Flask: the API decides what is limited and under which key (the client IP).
"""

from __future__ import annotations

import logging
import math
import time
from typing import TYPE_CHECKING

from limits import RateLimitItem, RateLimitItemPerDay, RateLimitItemPerHour, RateLimitItemPerMinute
from limits.storage import MemoryStorage, RedisStorage, Storage
from limits.strategies import FixedWindowRateLimiter

from consent_service.config import Config

if TYPE_CHECKING:
    from consent_service.context import Context

log = logging.getLogger(__name__)

MEMORY = "memory://"
KEY_PREFIX = "consent-ratelimit"
CACHE_KEY = "ratelimit.limiter"  # ctx.caches key of the process's Limiter


def make_storage(url: str) -> Storage:
    """The counters' storage for ``url`` (empty = this process's memory)."""
    url = url or MEMORY
    if url.startswith(("redis://", "rediss://")):
        return RedisStorage(url, key_prefix=KEY_PREFIX)
    if url == MEMORY:
        return MemoryStorage()
    raise ValueError(f"CONSENT_RATELIMIT_STORAGE_URL: use memory:// or redis://, not {url.split('://')[0]!r}")


def check_config(config: Config) -> None:
    """ValueError naming the variable when the storage URL has a scheme that is not supported."""
    make_storage(config.ratelimit_storage_url)


class Limiter:
    """Per-minute limits; ``hit`` counts, ``blocked`` only looks."""

    def __init__(self, storage_url: str) -> None:
        self.storage_url = storage_url or MEMORY
        self.strategy = FixedWindowRateLimiter(make_storage(self.storage_url))

    @classmethod
    def from_config(cls, config: Config) -> Limiter:
        return cls(config.ratelimit_storage_url)

    def _retry_after(self, item: RateLimitItem, name: str, key: str) -> int:
        reset = self.strategy.get_window_stats(item, name, key).reset_time
        return max(1, math.ceil(reset - time.time()))

    def hit(self, name: str, per_minute: int, key: str) -> int | None:
        """Count one hit of ``key`` against ``name``; the seconds to wait when over the limit, else None."""
        return self._ask(name, per_minute, key, count=True)

    def hit_hourly(self, name: str, per_hour: int, key: str) -> int | None:
        """As ``hit``, in one-hour windows (a slow abuse, such as mailing one address all day)."""
        return self._ask(
            name, per_hour, key, count=True, item=RateLimitItemPerHour(per_hour) if per_hour > 0 else None
        )

    def hit_windows(self, name: str, key: str, per_minute: int, per_hour: int, per_day: int) -> int | None:
        """Count one hit of ``key`` in a minute's, an hour's and a day's window (``0`` = that one off);
        the seconds to wait for the first window used up, else None. A hit refused by a shorter
        window is not counted in the longer ones, so waiting out the minute costs no more of the day."""
        for limit, item in (
            (per_minute, RateLimitItemPerMinute),
            (per_hour, RateLimitItemPerHour),
            (per_day, RateLimitItemPerDay),
        ):
            wait = self._ask(name, limit, key, count=True, item=item(limit) if limit > 0 else None)
            if wait:
                return wait
        return None

    def blocked(self, name: str, per_minute: int, key: str) -> int | None:
        """The seconds to wait when ``key`` already used up ``name`` this window, else None."""
        return self._ask(name, per_minute, key, count=False)

    def _ask(
        self, name: str, per_minute: int, key: str, *, count: bool, item: RateLimitItem | None = None
    ) -> int | None:
        if per_minute <= 0:
            return None
        item = item or RateLimitItemPerMinute(per_minute)
        try:
            allowed = (self.strategy.hit if count else self.strategy.test)(item, name, key)
            return None if allowed else self._retry_after(item, name, key)
        except Exception as exc:  # noqa: BLE001 - any storage failure: let the request through
            log.warning("rate limit storage unavailable (%s); %s not limited", type(exc).__name__, name)
            return None


def limiter_of(ctx: Context) -> Limiter:
    """The process's limiter for the configured storage, kept in ``ctx.caches`` (built on first use,
    built again when the storage setting changed)."""
    url = ctx.config.ratelimit_storage_url or MEMORY
    current = ctx.caches.get(CACHE_KEY)
    if current is None or current.storage_url != url:
        current = ctx.caches[CACHE_KEY] = Limiter(url)
    return current
