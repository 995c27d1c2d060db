"""Where the ``limits`` counters live: Redis when PAINSCOPE_REDIS_URL is set, this process's memory otherwise.

The one place a ``limits`` storage is built, for the login throttle
(``server/web/security/shared_throttle.py``) and the API rate limits (``server/web/security/rate_limits.py``).
In Redis every worker of a cluster counts in the same keys; a Redis that does not answer
raises ``redis.exceptions.RedisError``, which ``server/web/requests/errors.py`` answers with 503
``shared_state_unavailable``.
"""
from __future__ import annotations

from limits.storage import Storage, storage_from_string

from server.store.shared_sessions import REDIS_TIMEOUT_S

MEMORY_URL = "memory://"  # one process (`make run`): nothing to share


def limits_storage(redis_url: str) -> Storage:
    """A storage on ``redis_url`` (redis://host:port/db, with the shared sessions' timeouts), or in memory when empty."""
    if not redis_url:
        return storage_from_string(MEMORY_URL)
    return storage_from_string(redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)
