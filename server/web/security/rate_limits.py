"""Request rate limits on the JSON API, per account, counted where every worker of a cluster sees them.

Two limits (``Settings.rate_limit_analysis`` and ``Settings.rate_limit_api``, in the
``limits`` syntax like ``"1200/minute"``): one for the analysis calls, which cost CPU,
and a looser one for every other ``/api/`` and seed-compatible call. Each counts on its
own, per account (an API token and a login of the same account share the count), or per
client address for a request without a valid login, which is then refused anyway.
``/health``, ``/metrics``, pages, static files and the ``/live`` Socket.IO frames (bounded
by their own backpressure) are never limited. A third limit, ``Settings.rate_limit_live_start``,
counts the ``/live`` ``start`` events of an account (``server/web/routes/live.py`` asks it).

Over a limit: 429 ``rate_limited`` with ``Retry-After`` (seconds until the moving window
lets the next call in). The counters are in Redis when PAINSCOPE_REDIS_URL is set, in
memory otherwise (``server/web/security/limits_storage.py``); Redis down gives 503
``shared_state_unavailable``, as for the login throttle.
"""
from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, current_app, request
from flask_login import current_user
from limits import RateLimitItem, parse_many
from limits.storage import Storage
from limits.strategies import MovingWindowRateLimiter

from server.web.requests.errors import STATUS_BY_CODE, error_response
from server.web.security.limits_storage import limits_storage

ANALYSIS, API = "analysis", "api"  # the two HTTP limits; also their keys' middle part
LIVE_START = "live-start"  # the /live `start` events of an account (server/web/routes/live.py)
NAMESPACE = "painscope-rate"  # the first part of every counter's key (the login throttle has its own)
OFF = frozenset({"", "0"})  # setting values that switch a limit off
LIMITED_PREFIX = "/api/"
LIMITED_BLUEPRINTS = frozenset({"compat"})  # the seed servers' routes (/upload-video, /analyze-image, ...)
# The calls that analyse what they are sent (and cost CPU): under the analysis limit.
ANALYSIS_ENDPOINTS = frozenset({
    "api.analyze_image",
    "api.analyze_video",
    "ecg_api.analyze_ecg_upload",
    "body_api.analyze_body",
    "body_api.analyze_body_video_upload",
    "rppg_api.post_frames",
    "compat.upload_video",
    "compat.analyze_image",
    "compat.analyze_batch",
    "scales_api.prefill_scale",
})
EXTENSION_KEY = "rate_limits"


def limit_of(path: str, endpoint: str | None) -> str | None:
    """Which limit a call to ``path`` (the route ``endpoint``, None when no route matched) counts against:
    ``"analysis"``, ``"api"``, or None (not limited)."""
    if endpoint in ANALYSIS_ENDPOINTS:
        return ANALYSIS
    blueprint = endpoint.split(".", 1)[0] if endpoint else None
    if path.startswith(LIMITED_PREFIX) or blueprint in LIMITED_BLUEPRINTS:
        return API
    return None


def parse_limit(name: str, value: str) -> RateLimitItem | None:
    """The limit a setting gives (``name`` for the error message), or None when it is off ("" or "0").

    Raises ValueError for anything but one limit such as ``"120/minute"``.
    """
    value = value.strip()
    if value in OFF:
        return None
    try:
        items = parse_many(value)
    except ValueError as exc:
        raise ValueError(f"{name}={value!r}: not a rate limit like '120/minute' ({exc})") from exc
    if len(items) != 1 or items[0].amount < 1:
        raise ValueError(f"{name}={value!r}: give one limit of at least one call, like '120/minute' ('0': off)")
    return items[0]


class RateLimits:
    """The two API limits over one ``limits`` storage, in a moving window (no double burst at a window's edge)."""

    def __init__(self, storage: Storage, analysis: str, api: str, live_start: str = "") -> None:
        """``analysis``, ``api``, ``live_start``: the settings' values ("" or "0": that limit is off)."""
        self._limiter = MovingWindowRateLimiter(storage)
        self._items = {
            ANALYSIS: parse_limit("PAINSCOPE_RATE_LIMIT_ANALYSIS", analysis),
            API: parse_limit("PAINSCOPE_RATE_LIMIT_API", api),
            LIVE_START: parse_limit("PAINSCOPE_RATE_LIMIT_LIVE_START", live_start),
        }

    def hit(self, limit: str, who: str) -> int | None:
        """Count one call of ``who`` against ``limit``: None when it may go on, else the seconds to wait.

        A refused call is not counted, so a client that keeps trying is let in as its old calls leave the window.
        """
        item = self._items[limit]
        if item is None or self._limiter.hit(item, NAMESPACE, limit, who):
            return None
        reset = self._limiter.get_window_stats(item, NAMESPACE, limit, who).reset_time
        return max(1, math.ceil(reset - time.time()))


def init_rate_limits(app: Flask) -> None:
    """Check the limits before every request of ``app``, counted in Redis when PAINSCOPE_REDIS_URL is set.

    Register it before the login check (``server/web/security/auth.py``), so that a client flooding the API with
    bad tokens is refused by address too.
    """
    settings = app.extensions["painscope"].settings
    storage = limits_storage(settings.redis_url)
    app.extensions[EXTENSION_KEY] = RateLimits(storage, settings.rate_limit_analysis, settings.rate_limit_api,
                                               settings.rate_limit_live_start)
    app.before_request(_check_rate_limit)


def rate_limits_of(app: Flask) -> RateLimits:
    """The app's limits (after :func:`init_rate_limits`), for counting what is not an HTTP request."""
    return app.extensions[EXTENSION_KEY]


def _caller() -> str:
    """The account, or for a request without a valid login the client's address (ProxyFix-corrected)."""
    if current_user.is_authenticated:
        return f"account:{current_user.id}"
    return f"address:{request.remote_addr or 'unknown'}"


def _check_rate_limit() -> Any:
    limit = limit_of(request.path, request.endpoint)
    if limit is None:
        return None
    wait = current_app.extensions[EXTENSION_KEY].hit(limit, _caller())
    if wait is None:
        return None
    kind = "analysis calls" if limit == ANALYSIS else "API calls"
    response = error_response(
        "rate_limited", f"Too many {kind} from this account (or address); try again in {wait} s.", STATUS_BY_CODE["rate_limited"])
    response.headers["Retry-After"] = str(wait)
    return response
