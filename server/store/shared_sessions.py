"""Heart-rate sessions kept in Redis, so that every worker of a cluster sees the same ones.

The same interface as the in-memory ``server.vitals.sessions.RppgSessionStore``
(which it extends): a session opened through one worker takes frames and
answers status through any other, and the caps and the idle expiry are counted
across the cluster. Redis holds each session's small skin-colour trace (time,
mean RGB per region, face box per frame, over the last rPPG window), never
frames; a worker rebuilds the tracker by replaying that trace. The clock is the
wall clock (``time.time``), the one the workers share.

A Redis that does not answer raises ``redis.exceptions.RedisError``, which the
web layer answers with 503 (``server/web/requests/errors.py``); redis-py reconnects by
itself on the next request once Redis is back.
"""
from __future__ import annotations

import json
import math
import secrets
import time
from typing import Any, Mapping

import numpy as np
import redis

from server.vitals.rppg_tracker import MAX_GAP_S, RppgTracker
from server.vitals.sessions import RppgSession, RppgSessionStore, Sample, apply_samples, check_roi, visible

KEY_PREFIX = "painscope:rppg:"
OPEN_KEY = KEY_PREFIX + "open"  # sorted set: session id -> last post (unix s); the cap counts it
CREATE_LOCK_KEY = KEY_PREFIX + "lock:create"  # one creation at a time across the cluster, so a cap holds
# A lock is held for one read-modify-write of a session (milliseconds); these bound a holder that died.
LOCK_TIMEOUT_S = 10.0
LOCK_WAIT_S = 10.0
# Redis must answer within this long, else the request gets a 503 rather than hanging (loopback or LAN).
REDIS_TIMEOUT_S = 2.0


def connect(url: str) -> redis.Redis:
    """A Redis client for ``url`` (redis://host:port/db) that gives up after ``REDIS_TIMEOUT_S``."""
    return redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S)


class RedisRppgSessionStore(RppgSessionStore):
    """``RppgSessionStore`` whose sessions live in Redis; ``status()`` is inherited."""

    def __init__(
        self, client: redis.Redis, max_sessions: int, idle_s: float, method: str, window_s: float,
        max_per_owner: int | None = None,
    ) -> None:
        """``client``: see :func:`connect`; the rest as ``RppgSessionStore``."""
        super().__init__(max_sessions, idle_s, method, window_s, clock=time.time, max_per_owner=max_per_owner)
        self.redis = client

    def create(self, roi: str = "face", owner_id: int | None = None) -> RppgSession:
        """A new session of ``owner_id``; too_many_sessions when the cluster's or the owner's cap is reached."""
        check_roi(roi)
        with self.redis.lock(CREATE_LOCK_KEY, timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_WAIT_S):
            self._expire()
            owned = self.redis.zcard(_owner_key(owner_id)) if owner_id is not None else 0
            self.check_caps(self.redis.zcard(OPEN_KEY), owned, owner_id)
            now = self._clock()
            session = RppgSession(
                id=secrets.token_urlsafe(12), roi=roi, owner_id=owner_id,
                tracker=RppgTracker(self.method, self.window_s), created_unix=now, last_seen=now, started=now,
            )
            self._save(session, [])
        return session

    def get(self, session_id: str, viewer_id: int | None = None, sees_all: bool = True) -> RppgSession:
        """The session as Redis has it now, if open and the viewer may see it; else session_not_found."""
        return visible(self._load(session_id), session_id, viewer_id, sees_all)

    def delete(self, session_id: str, viewer_id: int | None = None, sees_all: bool = True) -> None:
        """Close a session the viewer may see (not-found otherwise)."""
        session = self.get(session_id, viewer_id, sees_all)
        pipe = self.redis.pipeline()
        pipe.delete(_session_key(session_id))
        pipe.zrem(OPEN_KEY, session_id)
        if session.owner_id is not None:
            pipe.zrem(_owner_key(session.owner_id), session_id)
        pipe.execute()

    def all(self, viewer_id: int | None = None, sees_all: bool = True) -> list[RppgSession]:
        """Every open session of the cluster the viewer may see."""
        self._expire()
        ids = [raw.decode() for raw in self.redis.zrange(OPEN_KEY, 0, -1)]
        sessions = [self._load(session_id) for session_id in ids]
        return [s for s in sessions if s is not None and (sees_all or s.owner_id == viewer_id)]

    def count(self) -> int:
        """How many sessions the cluster has open."""
        self._expire()
        return int(self.redis.zcard(OPEN_KEY))

    def add_samples(self, session: RppgSession, samples: list[Sample], frame_interval_s: float | None = None) -> None:
        """As ``RppgSessionStore.add_samples``, on the session as Redis has it (another worker may have added
        frames since ``session`` was read), under a cluster-wide lock; ``session`` is updated to the result."""
        with self.redis.lock(_session_key(session.id) + ":lock", timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_WAIT_S):
            current, trace = self._load_with_trace(session.id)
            if current is None:
                visible(None, session.id, None, True)  # expired or closed meanwhile: not found
            fed = apply_samples(current, samples, self._clock(), frame_interval_s)
            self._save(current, _trimmed(trace + [_encode_sample(s) for s in fed], self.window_s))
        for name in ("tracker", "last_seen", "frames_received", "faces_found", "first_frame_s", "last_frame_s"):
            setattr(session, name, getattr(current, name))

    def _expire(self) -> None:
        """Drop ids whose sessions went idle from the cap's count (their data expire by TTL in Redis)."""
        cutoff = self._clock() - self.idle_s
        stale = [raw.decode() for raw in self.redis.zrangebyscore(OPEN_KEY, "-inf", cutoff)]
        if not stale:
            return
        owners = self.redis.mget([_session_key(s) + ":owner" for s in stale])
        pipe = self.redis.pipeline()
        pipe.zremrangebyscore(OPEN_KEY, "-inf", cutoff)
        for session_id, owner in zip(stale, owners):
            if owner is not None:
                pipe.zrem(_owner_key(int(owner)), session_id)
        pipe.execute()

    def _save(self, session: RppgSession, trace: list[list]) -> None:
        """Write the session and its trace with an idle expiry, and count it as open (for the caps)."""
        ttl = max(1, math.ceil(self.idle_s))
        record = {
            "roi": session.roi, "owner_id": session.owner_id, "created_unix": session.created_unix,
            "last_seen": session.last_seen, "frames_received": session.frames_received,
            "faces_found": session.faces_found, "first_frame_s": session.first_frame_s,
            "last_frame_s": session.last_frame_s, "trace": trace,
        }
        pipe = self.redis.pipeline()
        pipe.set(_session_key(session.id), json.dumps(record), ex=ttl)
        pipe.zadd(OPEN_KEY, {session.id: session.last_seen})
        if session.owner_id is not None:
            # kept a little longer than the session, so that _expire still finds whose it was
            pipe.set(_session_key(session.id) + ":owner", session.owner_id, ex=2 * ttl)
            pipe.zadd(_owner_key(session.owner_id), {session.id: session.last_seen})
        pipe.execute()

    def _load(self, session_id: str) -> RppgSession | None:
        return self._load_with_trace(session_id)[0]

    def _load_with_trace(self, session_id: str) -> tuple[RppgSession | None, list[list]]:
        """The session rebuilt from Redis (its tracker replayed from the trace), or None when closed or idle."""
        raw = self.redis.get(_session_key(session_id))
        if raw is None:
            return None, []
        record = json.loads(raw)
        if record["last_seen"] < self._clock() - self.idle_s:
            return None, []
        tracker = RppgTracker(self.method, self.window_s)
        for t_s, means, box in record["trace"]:
            tracker.add(t_s, {name: np.asarray(rgb, dtype=float) for name, rgb in means.items()},
                        tuple(box) if box is not None else None)
        session = RppgSession(
            id=session_id, roi=record["roi"], owner_id=record["owner_id"], tracker=tracker,
            created_unix=record["created_unix"], last_seen=record["last_seen"], started=record["created_unix"],
            frames_received=record["frames_received"], faces_found=record["faces_found"],
            first_frame_s=record["first_frame_s"], last_frame_s=record["last_frame_s"],
        )
        return session, record["trace"]


def _session_key(session_id: str) -> str:
    return f"{KEY_PREFIX}session:{session_id}"


def _owner_key(owner_id: int | None) -> str:
    return f"{KEY_PREFIX}owner:{owner_id}"


def _encode_sample(sample: tuple[float, Mapping[str, np.ndarray], Any]) -> list:
    """(time s, means, box) as JSON-ready lists; JSON floats round-trip exactly, so the replay is the same."""
    t_s, means, box = sample
    return [float(t_s), {name: [float(v) for v in np.asarray(rgb).ravel()] for name, rgb in means.items()},
            [int(v) for v in box] if box is not None else None]


def _trimmed(trace: list[list], window_s: float) -> list[list]:
    """The trace the tracker still uses: the last window, plus earlier frames within a gap of its first one
    (the motion and gap checks of ``RppgTracker.add`` look one face box back)."""
    if not trace:
        return trace
    keep_from = trace[-1][0] - window_s - MAX_GAP_S
    return [sample for sample in trace if sample[0] >= keep_from]
