"""Fair shares: at most ``Settings.max_analyses_per_user`` analyses of one account under way at once.

Issue 25: nothing kept one account from filling the analysis threads for
everyone (a rate limit counts calls per minute, not calls running now). An
analysis call (``rate_limits.ANALYSIS_ENDPOINTS``) of an account that already
has that many running is refused at once, 429 ``too_many_analyses`` with
``Retry-After: 1``, instead of queueing behind its own work. Counted per process
(each worker of a cluster has its own threads to share). The live streams have
their own cap (``Settings.live_max_streams_per_user``, ``server/web/routes/live.py``).
A long video delaying another account's photo is the job queue's to solve.
"""
from __future__ import annotations

import threading
from typing import Any

from flask import Flask, current_app, g, request
from flask_login import current_user

from server.web.requests.errors import STATUS_BY_CODE, error_response
from server.web.security.rate_limits import ANALYSIS_ENDPOINTS

EXTENSION_KEY = "fair_share"
_HELD = "_fair_share_account"  # flask.g key: the account whose slot this request holds
RETRY_AFTER_S = 1  # an analysis takes ~20 ms (a photo) to seconds: try again shortly


class InProgress:
    """Calls under way per account, at most ``limit`` each (0: no cap).

    Touched only by the threads (green or real) that serve requests, between a
    request's start and its end; the lock keeps the counts whole in both modes.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: dict[int, int] = {}
        self._lock = threading.Lock()

    def enter(self, account_id: int) -> bool:
        """Take a slot for the account; False when it holds ``limit`` already."""
        with self._lock:
            held = self._counts.get(account_id, 0)
            if self.limit > 0 and held >= self.limit:
                return False
            self._counts[account_id] = held + 1
            return True

    def leave(self, account_id: int) -> None:
        """Give a slot back."""
        with self._lock:
            held = self._counts.get(account_id, 0) - 1
            if held > 0:
                self._counts[account_id] = held
            else:
                self._counts.pop(account_id, None)

    def held(self, account_id: int) -> int:
        """How many the account holds now."""
        with self._lock:
            return self._counts.get(account_id, 0)


def init_fair_share(app: Flask) -> None:
    """Count the analysis calls per account; register after the login check (the account must be known)."""
    app.extensions[EXTENSION_KEY] = InProgress(app.extensions["painscope"].settings.max_analyses_per_user)
    app.before_request(_take_slot)
    app.teardown_request(_give_slot_back)


def _take_slot() -> Any:
    if request.endpoint not in ANALYSIS_ENDPOINTS or not current_user.is_authenticated:
        return None
    slots: InProgress = current_app.extensions[EXTENSION_KEY]
    if not slots.enter(current_user.id):
        response = error_response(
            "too_many_analyses",
            "This account has %(limit)s analyses under way, the most it may have at once; "
            "try again when one has finished.",
            STATUS_BY_CODE["too_many_analyses"], limit=slots.limit,
        )
        response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response
    g.setdefault(_HELD, current_user.id)
    return None


def _give_slot_back(_exc: BaseException | None) -> None:
    account_id = g.pop(_HELD, None)
    if account_id is not None:
        current_app.extensions[EXTENSION_KEY].leave(account_id)
