"""Heart-rate sessions for devices that post frames one by one (or in batches). No web framework here.

A session keeps only the last rPPG window of skin colour (bounded by time),
expires after a stretch with no frames, and there are at most a fixed number at
once, and fewer per owner (so one account cannot take every slot). A session
belongs to the account that opened it: others get "not found" for it, as if it
did not exist, unless they may see all (admins).
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from server.problems import InputProblem
from server.vitals.rppg_tracker import RppgTracker

ROI_MODES = ("face", "full")  # skin regions from landmarks, or every pixel is skin (pre-cropped)
Sample = tuple[float | None, Mapping[str, np.ndarray], tuple | None]  # (time s or None, region means, face box)


@dataclass
class RppgSession:
    """One device's stream of frames and its heart-rate state."""

    id: str
    roi: str
    owner_id: int | None  # the account that opened it (None: no owner, e.g. a test or a script without one)
    tracker: RppgTracker
    created_unix: float
    last_seen: float  # store clock
    started: float  # store clock at creation: origin of server-side timestamps
    frames_received: int = 0
    faces_found: int = 0
    first_frame_s: float | None = None  # capture times (s) of the first and latest frames received
    last_frame_s: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def last_seen_unix(self) -> float:
        """Wall-clock time of the latest post (``last_seen`` is on the store's monotonic clock)."""
        return self.created_unix + (self.last_seen - self.started)


def check_roi(roi: str) -> None:
    """Refuse a region mode other than ``ROI_MODES``."""
    if roi not in ROI_MODES:
        raise InputProblem("bad_parameter", "'roi' must be one of %(modes)s.", modes=", ".join(ROI_MODES))


def visible(session: RppgSession | None, session_id: str, viewer_id: int | None, sees_all: bool) -> RppgSession:
    """``session`` when it exists and the viewer may see it; else not found (whether another's exists is not told)."""
    if session is None or not (sees_all or session.owner_id == viewer_id):
        raise InputProblem("session_not_found", "There is no open session %(session)s (it may have expired).",
                           session=repr(session_id))
    return session


class RppgSessionStore:
    """All open sessions, with the count cap and the idle expiry."""

    def __init__(
        self, max_sessions: int, idle_s: float, method: str, window_s: float,
        clock: Callable[[], float] = time.monotonic, max_per_owner: int | None = None,
    ) -> None:
        """``max_per_owner``: sessions one owner may have open (None: only the global cap)."""
        self.max_sessions = max_sessions
        self.max_per_owner = max_sessions if max_per_owner is None else max_per_owner
        self.idle_s = idle_s
        self.method = method
        self.window_s = window_s
        self._clock = clock
        self._sessions: dict[str, RppgSession] = {}
        self._lock = threading.Lock()

    def create(self, roi: str = "face", owner_id: int | None = None) -> RppgSession:
        """A new session of ``owner_id``; 429-style refusal when the global or the owner's cap is reached."""
        check_roi(roi)
        with self._lock:
            self._expire()
            owned = sum(1 for s in self._sessions.values() if s.owner_id == owner_id)
            self.check_caps(len(self._sessions), owned, owner_id)
            now = self._clock()
            session = RppgSession(
                id=secrets.token_urlsafe(12), roi=roi, owner_id=owner_id,
                tracker=RppgTracker(self.method, self.window_s), created_unix=time.time(), last_seen=now, started=now,
            )
            self._sessions[session.id] = session
            return session

    def check_caps(self, open_count: int, owned: int, owner_id: int | None) -> None:
        """Refuse (too_many_sessions, a 429) a new session when ``open_count`` sessions are open in all
        or the owner already has ``owned``."""
        if open_count >= self.max_sessions:
            raise InputProblem(
                "too_many_sessions",
                "%(count)s sessions are open; close one or wait %(seconds)s s for idle ones to expire.",
                count=self.max_sessions, seconds=f"{self.idle_s:.0f}",
            )
        if owner_id is not None and owned >= self.max_per_owner:
            raise InputProblem(
                "too_many_sessions",
                "You have %(count)s sessions open, the most one account may have; close one or wait "
                "%(seconds)s s for idle ones to expire.",
                count=owned, seconds=f"{self.idle_s:.0f}",
            )

    def get(self, session_id: str, viewer_id: int | None = None, sees_all: bool = True) -> RppgSession:
        """An open session the viewer may see (its owner, or anyone when ``sees_all``), or a not-found
        refusal (also for expired ones, and for another's: whether it exists is not told)."""
        with self._lock:
            self._expire()
            session = self._sessions.get(session_id)
        return visible(session, session_id, viewer_id, sees_all)

    def delete(self, session_id: str, viewer_id: int | None = None, sees_all: bool = True) -> None:
        """Close a session the viewer may see (not-found otherwise)."""
        self.get(session_id, viewer_id, sees_all)
        with self._lock:
            self._sessions.pop(session_id, None)

    def all(self, viewer_id: int | None = None, sees_all: bool = True) -> list[RppgSession]:
        """Every open session the viewer may see."""
        with self._lock:
            self._expire()
            return [s for s in self._sessions.values() if sees_all or s.owner_id == viewer_id]

    def count(self) -> int:
        """How many sessions are open (expired ones no longer count)."""
        with self._lock:
            self._expire()
            return len(self._sessions)

    def add_samples(
        self,
        session: RppgSession,
        samples: list[Sample],
        frame_interval_s: float | None = None,
    ) -> None:
        """Frames' skin colour: (timestamp s or None for "now", region means, face box or None).

        A frame without a timestamp was captured when it arrived. With
        ``frame_interval_s`` (a batch from a device that sends no times), the
        post's untimed frames are instead spaced by that interval, the last
        one arriving now, yet never before the session's previous frame.
        """
        with session.lock:
            apply_samples(session, samples, self._clock(), frame_interval_s)

    def status(self, session: RppgSession) -> dict:
        """What a device polls: heart rate, quality, and how full the buffer is."""
        with session.lock:
            rate, _ = session.tracker.current()
            buffered = len(session.tracker)
        if rate.bpm is not None:
            state = "ready"
        elif session.frames_received and not buffered:
            state = "no_face"
        else:
            state = "collecting"
        return {
            "id": session.id,
            "status": state,
            "roi": session.roi,
            **rate.as_vitals().to_dict(),
            "frames_buffered": buffered,
            "frames_received": session.frames_received,
            "faces_found": session.faces_found,
            "created": round(session.created_unix, 3),
            "expires_in_s": round(max(0.0, self.idle_s - (self._clock() - session.last_seen)), 1),
        }

    def _expire(self) -> None:
        cutoff = self._clock() - self.idle_s
        for session_id in [sid for sid, s in self._sessions.items() if s.last_seen < cutoff]:
            del self._sessions[session_id]



def apply_samples(
    session: RppgSession, samples: list[Sample], now: float, frame_interval_s: float | None = None,
) -> list[tuple[float, Mapping[str, np.ndarray], tuple | None]]:
    """Add frames' skin colour to ``session`` as of ``now`` (store clock), as ``RppgSessionStore.add_samples``
    describes; the caller holds the session's lock. Returns what reached the tracker, (time s, means, box)
    per frame with a face, so that a shared store can keep the trace and replay it elsewhere."""
    session.last_seen = now
    arrived = now - session.started
    first = arrived
    if frame_interval_s:
        first = arrived - (len(samples) - 1) * frame_interval_s
        if session.last_frame_s is not None:
            first = max(first, session.last_frame_s + frame_interval_s)
    fed = []
    for number, (timestamp, means, box) in enumerate(samples):
        session.frames_received += 1
        if timestamp is not None:
            t_s = timestamp
        else:
            t_s = first + number * frame_interval_s if frame_interval_s else arrived
        session.first_frame_s = t_s if session.first_frame_s is None else session.first_frame_s
        session.last_frame_s = t_s
        if not means:
            continue
        session.faces_found += box is not None
        session.tracker.add(t_s, means, box)
        fed.append((t_s, means, box))
    return fed
