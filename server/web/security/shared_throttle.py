"""Login throttling counted in Redis, so that every worker of a cluster counts the same failures.

The same interface as ``server.web.security.auth.LoginThrottle`` (the in-memory one of a
single process), on the ``limits`` library (Flask-Limiter's storage layer) with
its Redis storage and moving window. A Redis that does not answer raises
``redis.exceptions.RedisError``: the login then gets 503 (``server/web/requests/errors.py``).
"""
from __future__ import annotations

import math
import time

from limits import RateLimitItemPerSecond
from limits.strategies import MovingWindowRateLimiter

from server.web.security.limits_storage import limits_storage

NAMESPACE = "painscope-login"  # the limits key prefix for failed logins


class RedisLoginThrottle:
    """At most ``max_failures`` failed logins per key within ``window_s`` seconds, across the cluster.

    Every failure is recorded under the largest allowance (``max_failures * record_factor``, the
    address-wide one); ``retry_after`` then compares the count with the allowance asked for. The
    moving window tells when its oldest failure leaves, so the wait it gives is an upper bound when
    the allowance asked for is the smaller one.
    """

    def __init__(self, url: str, max_failures: int, window_s: float, record_factor: int) -> None:
        """``url``: redis://host:port/db; ``record_factor``: how many allowances one key may record."""
        self.max_failures = max_failures
        self.window_s = window_s
        self._limiter = MovingWindowRateLimiter(limits_storage(url))
        self._item = RateLimitItemPerSecond(max_failures * record_factor, max(1, math.ceil(window_s)), NAMESPACE)

    def retry_after(self, client: str, max_failures: int | None = None) -> float | None:
        """Seconds until this key may try again, or None when it may now (``max_failures``: another allowance)."""
        allowed = self.max_failures if max_failures is None else max_failures
        stats = self._limiter.get_window_stats(self._item, client)
        if self._item.amount - stats.remaining < allowed:
            return None
        return max(1.0, stats.reset_time - time.time())

    def failed(self, client: str) -> None:
        """Count a failed attempt (beyond the recorded allowance the key is refused anyway)."""
        self._limiter.hit(self._item, client)

    def succeeded(self, client: str) -> None:
        """Forget the client's failures."""
        self._limiter.clear(self._item, client)
