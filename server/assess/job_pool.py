"""The in-process job engine (``make run``): a bounded pool of real threads of its own. No Flask.

The live frames and photos run on eventlet's thread pool with the upload
trackers (``offload.py``); jobs never take those: they run on
``job_workers`` threads here, each with its own face tracker, so a photo never
waits behind a video. Queued jobs start in the fair order of
:func:`jobs.next_owner`. Jobs live in this process's memory: a restart loses
them (their spool files are swept at the next start), and a client then gets 404.
"""
from __future__ import annotations

import collections
import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

from server.assess import spool
from server.assess.analysis import Progress
from server.assess.job_work import INTERNAL_ERROR_MESSAGE, JobContext, Outcome, attempt
from server.assess.jobs import (
    CANCELLED, FAILED, QUEUED, RUNNING, EndListener, JobCancelled, JobSpec, JobView, error_of, new_job_id, next_owner,
    rotate,
)

log = logging.getLogger(__name__)

# How often an idle worker thread wakes to drop expired jobs.
EXPIRY_CHECK_S = 30.0


def os_threading() -> ModuleType:
    """The standard ``threading`` with real OS threads and locks, even when eventlet has patched it."""
    eventlet = sys.modules.get("eventlet")
    if eventlet is not None and eventlet.patcher.is_monkey_patched("thread"):
        return eventlet.patcher.original("threading")
    return threading


@dataclass
class _Entry:
    """A job in this process: what the page sees, what to do, and whether it was cancelled."""

    view: JobView
    spec: JobSpec
    cancelled: bool = False


class LocalJobEngine:
    """Jobs on ``workers`` threads of this process, at most ``max_per_owner`` of one account's at once."""

    def __init__(
        self,
        context: Callable[[], JobContext],
        workers: int,
        max_per_owner: int,
        keep_s: float,
        clock: Callable[[], float] = time.time,
        work: Callable[[JobContext, JobSpec, Progress], Outcome] = attempt,
    ) -> None:
        """``context`` is called once, by the first job (building it may load models); ``work`` does a job
        (tests give a stand-in to hold jobs where they want them)."""
        self._context_factory = context
        self._work_fn = work
        self._context: JobContext | None = None
        self._workers, self._max_per_owner, self._keep_s, self._clock = max(1, workers), max(1, max_per_owner), keep_s, clock
        real = os_threading()
        self._real = real
        self._changed = real.Condition(real.Lock())
        self._jobs: dict[str, _Entry] = {}
        self._queued: dict[str, collections.deque[str]] = {}
        self._running: collections.Counter[str] = collections.Counter()
        self._rotation: list[str] = []
        self._threads: list[threading.Thread] = []
        self._closed = False
        self._listeners: list[EndListener] = []

    # ---- the interface (jobs.JobEngine)

    def submit(self, owner: str, spec: JobSpec) -> JobView:
        """Queue the job; the worker threads start with the first one."""
        view = JobView(id=new_job_id(), owner=owner, kind=spec.kind, created_at=self._clock())
        with self._changed:
            self._jobs[view.id] = _Entry(view, spec)
            self._queued.setdefault(owner, collections.deque()).append(view.id)
            if owner not in self._rotation:
                self._rotation.insert(0, owner)  # never served: before every account served already
            self._start_threads()
            self._changed.notify_all()
        return view

    def get(self, owner: str, job_id: str) -> JobView | None:
        """The owner's job, or None."""
        with self._changed:
            self._expire()
            entry = self._jobs.get(job_id)
            return entry.view if entry is not None and entry.view.owner == owner else None

    def cancel(self, owner: str, job_id: str) -> JobView | None:
        """Cancel a queued job at once, a running one at its next sampled frame (its state says so now)."""
        with self._changed:
            entry = self._jobs.get(job_id)
            if entry is None or entry.view.owner != owner:
                return None
            if entry.view.final:
                return entry.view
            entry.cancelled = True
            if entry.view.state == QUEUED:
                self._queued[owner].remove(job_id)
                spool.remove(entry.spec.spool_path)
            entry.view = entry.view.with_changes(state=CANCELLED, finished_at=self._clock())
            self._changed.notify_all()
            return entry.view

    def jobs_of(self, owner: str) -> list[JobView]:
        """The owner's kept jobs, oldest first."""
        with self._changed:
            self._expire()
            return [e.view for e in self._jobs.values() if e.view.owner == owner]

    def on_end(self, listener: EndListener) -> None:
        """``listener(job)`` on the worker thread when a job ends done or failed."""
        self._listeners.append(listener)

    def close(self) -> None:
        """Stop the threads once their current jobs end."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    # ---- the worker threads

    def _start_threads(self) -> None:
        while len(self._threads) < self._workers:
            thread = self._real.Thread(target=self._work, name=f"painscope-job-{len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _work(self) -> None:
        while True:
            with self._changed:
                entry = self._take()
                while entry is None:
                    if self._closed:
                        return
                    self._changed.wait(EXPIRY_CHECK_S)
                    self._expire()
                    entry = self._take()
            try:
                self._run(entry)
            finally:
                with self._changed:
                    self._running[entry.view.owner] -= 1
                    self._changed.notify_all()
                spool.remove(entry.spec.spool_path)

    def _take(self) -> _Entry | None:
        """The next job by the fair share, marked running (under the lock); None when none may start."""
        queued = {owner: len(ids) for owner, ids in self._queued.items()}
        owner = next_owner(queued, self._running, self._rotation, self._max_per_owner)
        if owner is None:
            return None
        self._rotation = [o for o in rotate(self._rotation, owner) if self._queued.get(o)]
        entry = self._jobs[self._queued[owner].popleft()]
        self._running[owner] += 1
        entry.view = entry.view.with_changes(state=RUNNING, started_at=self._clock())
        return entry

    def _run(self, entry: _Entry) -> None:
        def progress(fraction: float, frames: int) -> None:
            with self._changed:
                if entry.cancelled:
                    raise JobCancelled()
                entry.view = entry.view.with_changes(progress=min(fraction, 1.0), frames=frames)

        if self._context is None:
            self._context = self._context_factory()
        try:
            state, result, error = self._work_fn(self._context, entry.spec, progress)
        except JobCancelled:
            state, result, error = CANCELLED, None, None
        except Exception:  # noqa: BLE001 - the work is attempt(), which reports failures; a worker thread must live
            log.exception("job %s", entry.view.id)
            state, result, error = FAILED, None, error_of("internal_error", INTERNAL_ERROR_MESSAGE)
        with self._changed:
            if entry.cancelled:
                return
            progress_done = 1.0 if result is not None else entry.view.progress
            entry.view = entry.view.with_changes(
                state=state, result=result, error=error, finished_at=self._clock(), progress=progress_done)
            ended = entry.view
        for listener in self._listeners:
            try:
                listener(ended)
            except Exception:  # noqa: BLE001 - a listener's failure is not the job's
                log.exception("job end listener failed")

    def _expire(self) -> None:
        """Forget ended jobs older than the keep time (under the lock)."""
        now = self._clock()
        for job_id in [i for i, e in self._jobs.items()
                       if e.view.final and e.view.finished_at is not None and now - e.view.finished_at > self._keep_s]:
            del self._jobs[job_id]


def sweep_spool(folder: Path, keep_s: float) -> None:
    """At start: spool files older than the keep time belong to no live job (a killed process left them)."""
    removed = spool.sweep(folder, keep_s)
    if removed:
        log.warning("%d spool file(s) left by an earlier run removed", removed)
