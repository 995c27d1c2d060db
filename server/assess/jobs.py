"""Long work as jobs: what a job is, what an engine does with it, and the fair share. No Flask.

A video analysis or a scale pre-fill is a job: the web layer stores the upload
in a private spool file (``spool.py``), submits a :class:`JobSpec`, answers 202
with the job's :class:`JobView`, and the client reads it until it is ``done``
(the result, as the synchronous answer was), ``failed`` (the error shape) or
``cancelled``. Two engines sit behind :class:`JobEngine`:

- ``job_pool.LocalJobEngine``: threads of this process (``make run``, no server to install);
- ``job_queue.RqJobEngine``: RQ workers on Redis (``make cluster``), shared by every web worker.

Both take queued jobs by :func:`next_owner` (round-robin across accounts, at
most ``job_max_running_per_account`` running per account), keep a finished job
for ``job_keep_seconds``, and mark a job whose worker died ``failed`` with the
code ``worker_lost``: never stuck ``running``.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Protocol, Sequence

# The states of a job; the last three are final.
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINAL_STATES = frozenset({DONE, FAILED, CANCELLED})
# The kinds of work (server/assess/job_work.py).
VIDEO, PREFILL = "video", "prefill"
KINDS = (VIDEO, PREFILL)
# A job id: 128 random bits, URL-safe; unguessable, though ownership is checked anyway.
JOB_ID_BYTES = 16
# The error of a job whose worker died under it.
WORKER_LOST = "worker_lost"
WORKER_LOST_MESSAGE = "The worker analysing this upload stopped before it finished; send it again."


class JobCancelled(Exception):
    """Raised inside a job's work (from its progress reporter) when the job was cancelled."""


def new_job_id() -> str:
    """A fresh, unguessable job id."""
    return secrets.token_urlsafe(JOB_ID_BYTES)


@dataclass(frozen=True)
class JobSpec:
    """What a job does: its kind, the spool file holding the upload, and its options (picklable, for RQ).

    ``options`` of a video: ``estimator``, ``face``, ``patient_id``, ``user_id``, ``received_at`` (ISO),
    ``physiology`` (an ECG's arousal, or None) and ``extras`` (merged into the result: the ECG's report).
    A pre-fill: ``scale`` and ``estimator``. References (neutral photos) travel as bytes in ``references``.
    """

    kind: str
    spool_path: str
    options: Mapping[str, Any] = field(default_factory=dict)
    references: Sequence[bytes] = ()


@dataclass(frozen=True)
class JobView:
    """A job as its owner sees it (``to_dict`` is the API's and the Socket.IO event's body)."""

    id: str
    owner: str
    kind: str
    state: str = QUEUED
    progress: float = 0.0  # 0-1
    frames: int = 0  # sampled frames analysed so far
    created_at: float = 0.0  # epoch seconds
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None  # when done
    error: dict[str, str] | None = None  # {"code", "message"} when failed (the web layer maps code to a status)

    @property
    def final(self) -> bool:
        """Whether the job has ended (done, failed or cancelled)."""
        return self.state in FINAL_STATES

    def seconds_left(self, now: float | None = None) -> float | None:
        """The time left at the pace so far (None before any progress, 0 once ended)."""
        if self.final:
            return 0.0
        if self.started_at is None or self.progress <= 0:
            return None
        elapsed = (time.time() if now is None else now) - self.started_at
        return max(0.0, elapsed * (1.0 - self.progress) / self.progress)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: id, kind, state, progress, frames, seconds_left, and the result or the error."""
        body: dict[str, Any] = {
            "id": self.id, "kind": self.kind, "state": self.state, "progress": round(self.progress, 4),
            "frames": self.frames,
        }
        left = self.seconds_left()
        body["seconds_left"] = round(left, 1) if left is not None else None
        if self.state == DONE:
            body["result"] = self.result
        if self.state == FAILED and self.error is not None:
            body["error"] = self.error
        return body

    def with_changes(self, **changes: Any) -> "JobView":
        """A copy with some fields changed."""
        return replace(self, **changes)


# Told of a job that ended (done or failed), once.
EndListener = Callable[[JobView], None]


class JobEngine(Protocol):
    """Where jobs run: the in-process pool or RQ on Redis."""

    def submit(self, owner: str, spec: JobSpec) -> JobView:
        """Queue the work; the spool file now belongs to the engine (removed when the job ends)."""

    def get(self, owner: str, job_id: str) -> JobView | None:
        """The owner's job, or None (no such job, expired, or another account's)."""

    def cancel(self, owner: str, job_id: str) -> JobView | None:
        """Cancel the owner's job (queued or running; an ended one is left as it is); None as ``get``."""

    def jobs_of(self, owner: str) -> list[JobView]:
        """The owner's jobs still kept, newest last."""

    def on_end(self, listener: "EndListener") -> None:
        """Call ``listener(job)`` once for every job that ends done or failed (the metrics count them): in
        the process that runs it (in-process) or the first web process that reads it ended (RQ)."""

    def close(self) -> None:
        """Stop taking work (running jobs are left to finish or are abandoned with the process)."""


def next_owner(
    queued: Mapping[str, int], running: Mapping[str, int], rotation: Sequence[str], max_per_owner: int
) -> str | None:
    """The account whose oldest queued job starts next: the first in ``rotation`` (accounts in the order they
    were last served, least recent first) with a queued job and fewer than ``max_per_owner`` running.

    The caller moves the chosen account to the end of the rotation, so queued jobs are taken round-robin
    across accounts: one account's ten uploads do not hold back another's one.
    """
    for owner in rotation:
        if queued.get(owner, 0) > 0 and running.get(owner, 0) < max_per_owner:
            return owner
    return None


def rotate(rotation: Iterable[str], served: str) -> list[str]:
    """The rotation with ``served`` moved to the end (served most recently)."""
    return [owner for owner in rotation if owner != served] + [served]


def error_of(code: str, message: str) -> dict[str, str]:
    """A failed job's error, in the API's error shape's inner object."""
    return {"code": code, "message": message}
