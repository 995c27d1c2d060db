"""The upload trackers' pool (server/assess/offload.py): a failed creation gives its slot back (issue 25)."""
from __future__ import annotations

import threading
import time

import pytest

from server.assess.offload import TrackerPool


class _Factory:
    """Makes stand-in trackers; fails the first ``failures`` times (as a half-loaded MediaPipe did)."""

    def __init__(self, failures: int, delay_s: float = 0.0) -> None:
        self.failures = failures
        self.delay_s = delay_s
        self.made = 0

    def __call__(self) -> object:
        time.sleep(self.delay_s)
        if self.failures > 0:
            self.failures -= 1
            raise ImportError("cannot import name 'vision' from partially initialized module 'mediapipe.tasks'")
        self.made += 1
        return object()


def test_a_tracker_that_fails_to_be_made_gives_its_slot_back():
    factory = _Factory(failures=1)
    pool = TrackerPool(2, 1280, factory=factory)
    with pytest.raises(ImportError):
        with pool.borrow():
            pass
    assert pool.created == 0
    with pool.borrow() as first, pool.borrow() as second:  # both slots are there: two trackers at once
        assert first is not second
    assert pool.created == 2 and factory.made == 2


def test_a_borrower_waiting_while_the_only_creation_fails_gets_the_slot():
    factory = _Factory(failures=1, delay_s=0.3)
    pool = TrackerPool(1, 1280, factory=factory)
    outcomes: list[str] = []

    def borrow() -> None:
        try:
            with pool.borrow():
                outcomes.append("tracker")
        except ImportError:
            outcomes.append("failed")

    first = threading.Thread(target=borrow)
    first.start()
    time.sleep(0.1)  # the first borrower is making the pool's only tracker, and will fail
    second = threading.Thread(target=borrow)
    second.start()
    first.join(timeout=5)
    second.join(timeout=5)
    assert sorted(outcomes) == ["failed", "tracker"]
    assert pool.created == 1
