"""The cluster's job engine: RQ (Redis Queue) workers run the jobs; Redis holds their state. No Flask.

Every web worker submits and reads jobs here; ``python -m server.assess.job_worker``
processes (started by ``make cluster`` beside the web workers) run them.

Redis keys (``painscope:jobs:`` prefix):

- ``job:<id>``: a hash: the :class:`JobView`'s fields, the pickled :class:`JobSpec`, and ``beat`` (the last
  time its worker was heard of); it expires ``job_keep_seconds`` after the job ends.
- ``owner:<owner>``: the ids of an account's jobs; ``queued:<owner>``: its jobs waiting, oldest first;
  ``running:<owner>``: its jobs handed to RQ (queued there or running); ``rotation``: the accounts in the
  order they were last served.

Fair share: a job is handed to RQ's queue only by :meth:`RqJobEngine.dispatch`
(under a Redis lock), which takes accounts round-robin and never lets one have
more than ``job_max_running_per_account`` handed over; a job's end hands over
the next. RQ runs each job in a forked work horse, so a job that crashes
takes only itself down. A job whose horse died (RQ marks it failed) or whose
worker went silent for ``job_heartbeat_timeout_s`` (the whole worker killed) is
marked failed ``worker_lost`` when next read: never stuck ``running``.
"""
from __future__ import annotations

import json
import logging
import pickle
import threading
import time
from typing import Any, Callable

import redis
from rq import Queue, get_current_job
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus

from server.assess import spool
from server.assess.job_work import JobContext, attempt
from server.assess.jobs import (
    CANCELLED, DONE, FAILED, QUEUED, RUNNING, WORKER_LOST, WORKER_LOST_MESSAGE, EndListener, JobCancelled, JobSpec,
    JobView,
    error_of, new_job_id, next_owner, rotate,
)
from server.config import Settings

log = logging.getLogger(__name__)

PREFIX = "painscope:jobs:"
QUEUE_NAME = "painscope-jobs"
DISPATCH_LOCK_S = 10.0  # the dispatch lock's lease; a dispatch takes milliseconds
BEAT_S = 2.0  # a running job's worker says it is alive this often (a thread beside the work)
PROGRESS_WRITE_S = 0.25  # progress is written at most this often (a sampled frame can take 20 ms)
# RQ's own record of a job outlives ours by nothing: its result lives in our hash.
RQ_RESULT_TTL_S = 0
# States of RQ's record that mean the work horse is gone without finishing ours.
RQ_ENDED = {JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED, JobStatus.FINISHED}


def _key(*parts: str) -> str:
    return PREFIX + ":".join(parts)


def _view(job_id: str, fields: dict[bytes, bytes]) -> JobView:
    """A JobView from the hash's fields."""
    text = {k.decode(): v.decode() for k, v in fields.items() if k != b"spec"}

    def number(name: str) -> float | None:
        return float(text[name]) if text.get(name) else None

    return JobView(
        id=job_id, owner=text["owner"], kind=text["kind"], state=text["state"],
        progress=float(text.get("progress") or 0.0), frames=int(text.get("frames") or 0),
        created_at=float(text["created_at"]), started_at=number("started_at"), finished_at=number("finished_at"),
        result=json.loads(text["result"]) if text.get("result") else None,
        error=json.loads(text["error"]) if text.get("error") else None,
    )


class RqJobEngine:
    """Jobs on RQ workers, their state in Redis (shared by every web worker and every RQ worker)."""

    def __init__(self, connection: redis.Redis, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.redis = connection
        self.settings = settings
        self.queue = Queue(QUEUE_NAME, connection=connection)
        self._clock = clock
        self._listeners: list[EndListener] = []

    # ---- the interface (jobs.JobEngine)

    def submit(self, owner: str, spec: JobSpec) -> JobView:
        """Store the job as queued for its account and hand over what the fair share allows."""
        view = JobView(id=new_job_id(), owner=owner, kind=spec.kind, created_at=self._clock())
        pipe = self.redis.pipeline()
        pipe.hset(_key("job", view.id), mapping={
            "owner": owner, "kind": spec.kind, "state": QUEUED, "progress": 0, "frames": 0,
            "created_at": view.created_at, "spec": pickle.dumps(spec),
        })
        pipe.sadd(_key("owner", owner), view.id)
        pipe.rpush(_key("queued", owner), view.id)
        pipe.execute()
        self.dispatch()
        return view

    def get(self, owner: str, job_id: str) -> JobView | None:
        """The owner's job (checked against its worker's health), or None."""
        fields = self.redis.hgetall(_key("job", job_id))
        if not fields or fields.get(b"owner", b"").decode() != owner:
            return None
        view = self._checked(_view(job_id, fields))
        if view.state in (DONE, FAILED) and self._listeners and b"reported" not in fields:
            if self.redis.hsetnx(_key("job", job_id), "reported", 1):  # the first web process to see it ended
                for listener in self._listeners:
                    try:
                        listener(view)
                    except Exception:  # noqa: BLE001 - a listener's failure is not the job's
                        log.exception("job end listener failed")
        return view

    def cancel(self, owner: str, job_id: str) -> JobView | None:
        """Cancel: a waiting job at once (RQ's record too), a running one at its worker's next sampled frame."""
        view = self.get(owner, job_id)
        if view is None or view.final:
            return view
        was = view.state
        view = self._finish(view, {"state": CANCELLED}, expect=(QUEUED, RUNNING)) or self.get(owner, job_id)
        if was == QUEUED:
            self.redis.lrem(_key("queued", owner), 0, job_id)
            if self.redis.srem(_key("running", owner), job_id):  # handed to RQ, not started: take it back
                try:
                    Job.fetch(job_id, connection=self.redis).cancel()
                except NoSuchJobError:
                    pass
                self.dispatch()
            self._remove_spool(job_id)
        return view

    def jobs_of(self, owner: str) -> list[JobView]:
        """The owner's kept jobs, oldest first; ids whose hash expired are forgotten."""
        ids = sorted(i.decode() for i in self.redis.smembers(_key("owner", owner)))
        views = []
        for job_id in ids:
            view = self.get(owner, job_id)
            if view is None:
                self.redis.srem(_key("owner", owner), job_id)
            else:
                views.append(view)
        return sorted(views, key=lambda v: v.created_at)

    def on_end(self, listener: EndListener) -> None:
        """``listener(job)`` in the first web process that reads a job ended done or failed."""
        self._listeners.append(listener)

    def close(self) -> None:
        """Nothing to stop here: the RQ workers are processes of their own."""

    # ---- fair hand-over to RQ

    def dispatch(self) -> None:
        """Hand queued jobs to RQ's queue, round-robin across accounts, within each one's share."""
        with self.redis.lock(_key("dispatch-lock"), timeout=DISPATCH_LOCK_S, blocking_timeout=DISPATCH_LOCK_S):
            rotation = [o.decode() for o in self.redis.lrange(_key("rotation"), 0, -1)]
            owners = {k.decode()[len(_key("queued", "")):] for k in self.redis.scan_iter(_key("queued", "*"))}
            rotation = sorted(owners - set(rotation)) + [o for o in rotation if o in owners]  # new ones first
            while True:
                queued = {o: int(self.redis.llen(_key("queued", o))) for o in rotation}
                running = {o: int(self.redis.scard(_key("running", o))) for o in rotation}
                owner = next_owner(queued, running, rotation, max(1, self.settings.job_max_running_per_account))
                if owner is None:
                    break
                rotation = rotate(rotation, owner)
                job_id = self.redis.lpop(_key("queued", owner)).decode()
                if self.redis.hget(_key("job", job_id), "state") != QUEUED.encode():
                    continue  # cancelled (or expired) meanwhile
                self.redis.sadd(_key("running", owner), job_id)
                self.queue.enqueue_call(
                    func=perform, args=(job_id,), job_id=job_id, timeout=int(self.settings.job_timeout_s),
                    result_ttl=RQ_RESULT_TTL_S, failure_ttl=int(self.settings.job_keep_seconds),
                )
            pipe = self.redis.pipeline()
            pipe.delete(_key("rotation"))
            if rotation:
                pipe.rpush(_key("rotation"), *rotation)
            pipe.execute()

    # ---- in the RQ work horse

    def run_here(self, job_id: str, context: JobContext) -> None:
        """Run the job in this process (RQ's work horse): progress and a heartbeat to Redis, the outcome kept."""
        key = _key("job", job_id)
        fields = self.redis.hgetall(key)
        if not fields or fields.get(b"state") != QUEUED.encode():
            return  # cancelled before it started, or expired
        view = _view(job_id, fields)
        spec: JobSpec = pickle.loads(fields[b"spec"])
        now = self._clock()
        self.redis.hset(key, mapping={"state": RUNNING, "started_at": now, "beat": now})
        stop_beating = threading.Event()
        beater = threading.Thread(target=self._beat, args=(key, stop_beating), daemon=True)
        beater.start()
        last_write = [0.0]

        def progress(fraction: float, frames: int) -> None:
            now = self._clock()
            if now - last_write[0] < PROGRESS_WRITE_S and fraction < 1.0:
                return
            last_write[0] = now
            pipe = self.redis.pipeline()
            pipe.hget(key, "state")
            pipe.hset(key, mapping={"progress": min(fraction, 1.0), "frames": frames, "beat": now})
            state, _ = pipe.execute()
            if state != RUNNING.encode():
                raise JobCancelled()

        try:
            state, result, error = attempt(context, spec, progress)
            changes: dict[str, Any] = {"state": state}
            if result is not None:
                changes.update(result=json.dumps(result), progress=1.0)
            if error is not None:
                changes["error"] = json.dumps(error)
            self._finish(view.with_changes(state=RUNNING), changes, expect=(RUNNING,))
        finally:
            stop_beating.set()
            spool.remove(spec.spool_path)
            self.redis.srem(_key("running", view.owner), job_id)
            self.dispatch()

    def _beat(self, key: str, stop: threading.Event) -> None:
        while not stop.wait(BEAT_S):
            try:
                self.redis.hset(key, "beat", self._clock())
            except redis.RedisError:
                log.warning("job heartbeat not written")

    # ---- ending

    def _finish(self, view: JobView, changes: dict[str, Any], expect: tuple[str, ...]) -> JobView | None:
        """Set a job's final fields if its state is still one of ``expect`` (atomically); then its hash expires
        after the keep time. The new view, or None when the state had moved on."""
        key = _key("job", view.id)
        changes = {**changes, "finished_at": self._clock()}
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    state = pipe.hget(key, "state")
                    if state is None or state.decode() not in expect:
                        pipe.unwatch()
                        if state is not None:  # ended another way (cancelled): it expires all the same
                            self.redis.expire(key, int(self.settings.job_keep_seconds))
                        return None
                    pipe.multi()
                    pipe.hset(key, mapping=changes)
                    pipe.expire(key, int(self.settings.job_keep_seconds))
                    pipe.execute()
                    break
                except redis.WatchError:
                    continue
        fields = self.redis.hgetall(key)
        return _view(view.id, fields) if fields else None

    def _checked(self, view: JobView) -> JobView:
        """A running job whose worker is gone (RQ says its horse ended, or no heartbeat) is failed now."""
        if view.state != RUNNING:
            return view
        beat = self.redis.hget(_key("job", view.id), "beat")
        silent = beat is None or self._clock() - float(beat) > self.settings.job_heartbeat_timeout_s
        if not silent:
            try:
                silent = Job.fetch(view.id, connection=self.redis).get_status(refresh=True) in RQ_ENDED
            except NoSuchJobError:
                silent = True
            if silent:  # RQ's record ended; ours may be being written this instant: read again first
                fresh = self.redis.hgetall(_key("job", view.id))
                if fresh and fresh.get(b"state") != RUNNING.encode():
                    return _view(view.id, fresh)
        if not silent:
            return view
        log.warning("job %s: its worker stopped; marked failed", view.id)
        ended = self._finish(view, {"state": FAILED, "error": json.dumps(error_of(WORKER_LOST, WORKER_LOST_MESSAGE))},
                             expect=(RUNNING,))
        self.redis.srem(_key("running", view.owner), view.id)
        self._remove_spool(view.id)
        self.dispatch()
        return ended or view

    def _remove_spool(self, job_id: str) -> None:
        raw = self.redis.hget(_key("job", job_id), "spec")
        if raw is not None:
            spool.remove(pickle.loads(raw).spool_path)


# ---- the RQ worker's side: the function RQ calls, and the context built once per worker process

_worker: dict[str, Any] = {}  # "settings", "context": set by serve() before the worker forks its horses


def perform(job_id: str) -> None:
    """What RQ runs in its work horse: the job ``job_id`` of our hash."""
    current = get_current_job()
    settings = _worker.get("settings") or Settings.from_env()
    if "context" not in _worker:
        _worker["context"] = JobContext.build(settings)
    RqJobEngine(current.connection, settings).run_here(job_id, _worker["context"])


def serve(settings: Settings, burst: bool = False) -> bool:
    """Run an RQ worker on the jobs' queue until stopped (``burst``: until the queue is empty)."""
    from rq import Worker

    _worker["settings"] = settings
    _worker["context"] = JobContext.build(settings)  # loaded once; each forked horse shares it
    connection = redis.Redis.from_url(settings.redis_url)
    worker = Worker([Queue(QUEUE_NAME, connection=connection)], connection=connection)
    return worker.work(burst=burst, with_scheduler=False)
