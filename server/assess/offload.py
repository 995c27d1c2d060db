"""Running CPU-bound analysis off the eventlet loop, and lending out face trackers.

Under eventlet (``make run``) analysis goes to eventlet's pool of real OS
threads, so the loop keeps serving pages, heartbeats and other streams; NumPy,
OpenCV and MediaPipe release the GIL for most of their work. Without eventlet
(tests, the Flask test client) the call simply runs in place.
"""
from __future__ import annotations

import contextlib
import importlib
import queue
import sys
import threading
import time
from types import ModuleType
from typing import Callable, Iterator, TypeVar

from server.vision.face import FaceTracker

T = TypeVar("T")


def eventlet_active() -> bool:
    """True when eventlet has monkey-patched the standard library (the server runs on it)."""
    eventlet = sys.modules.get("eventlet")  # never import it here: only a patched process uses it
    return eventlet is not None and bool(eventlet.patcher.is_monkey_patched("thread"))


def real_module(name: str) -> ModuleType:
    """The standard library module ``name`` as it was before eventlet patched it (``threading``, ``queue``,
    ``select``, ``subprocess``): its locks and waits block the OS thread, never a green thread.

    For state shared between the event loop and real OS threads: a patched ``threading.Lock`` is green,
    and a green lock taken by an OS thread and the loop at once hangs both (issue 25's speech jam).
    """
    if eventlet_active():
        from eventlet import patcher

        return patcher.original(name)
    return importlib.import_module(name)


# How often a green thread looks whether an OS thread has finished its work: 10 ms is far below what a
# person notices and costs the loop nothing measurable (a flag read per poll).
GREEN_POLL_S = 0.01


def wait_real_event(event: "threading.Event", timeout_s: float) -> bool:
    """Wait for an event set by a real OS thread, without blocking the event loop; True when it was set.

    Under eventlet, ``event.wait()`` on an original Event would stop the whole loop, so the green
    thread polls it and sleeps cooperatively in between; without eventlet it simply waits.
    """
    if not eventlet_active():
        return event.wait(timeout_s)
    deadline = time.monotonic() + timeout_s
    while not event.is_set():
        if time.monotonic() >= deadline:
            return False
        time.sleep(GREEN_POLL_S)  # patched: a green sleep, the loop serves others meanwhile
    return True


class Offloader:
    """Runs blocking work on real threads and counts how many runs are under way."""

    def __init__(self) -> None:
        self.in_progress = 0
        self._count_lock = threading.Lock()

    def run(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """``fn(*args, **kwargs)`` off the event loop when there is one."""
        with self._count_lock:
            self.in_progress += 1
        try:
            if eventlet_active():
                from eventlet import tpool

                return tpool.execute(fn, *args, **kwargs)
            return fn(*args, **kwargs)
        finally:
            with self._count_lock:
                self.in_progress -= 1


# A borrower waiting for a tracker looks again this often whether a slot was freed by a creation that
# failed (no tracker comes back to the queue then); a tracker given back wakes it at once.
SLOT_RECHECK_S = 0.5


class TrackerPool:
    """Static-mode face trackers for uploads, created on first use, at most ``size`` of them.

    Borrowing waits (cooperatively under eventlet) when all are lent, which also
    bounds how many uploads are analysed at once. A tracker whose creation fails
    gives its slot back (issue 25: one failed start left the pool at 1 of 2 for good).
    """

    def __init__(self, size: int, max_side: int, factory: Callable[[], FaceTracker] | None = None) -> None:
        """``factory``: makes one tracker (tests give one that fails); default a static-mode FaceTracker."""
        self._free: queue.Queue[FaceTracker] = queue.Queue()
        self._size = size
        self._created = 0
        self._max_side = max_side
        self._factory = factory or (lambda: FaceTracker(stream=False, max_side=self._max_side))
        self._lock = threading.Lock()

    @property
    def created(self) -> int:
        """Trackers made and not lost: at most ``size``."""
        return self._created

    @contextlib.contextmanager
    def borrow(self) -> Iterator[FaceTracker]:
        """Lend a tracker for the duration of a ``with`` block."""
        tracker = self._take()
        try:
            yield tracker
        finally:
            self._free.put(tracker)

    def _take(self) -> FaceTracker:
        while True:
            try:
                return self._free.get_nowait()
            except queue.Empty:
                pass
            with self._lock:
                create = self._created < self._size
                if create:
                    self._created += 1
            if create:
                try:
                    return self._factory()
                except BaseException:
                    with self._lock:
                        self._created -= 1  # the slot is free again: the next borrower tries anew
                    raise
            try:
                return self._free.get(timeout=SLOT_RECHECK_S)
            except queue.Empty:
                continue  # a slot may have been given back by a failed creation: look again
