"""Heart-rate sessions and login throttling kept in a real Redis, as every worker of a cluster sees them.

Two store objects on one Redis stand for two workers. (The same across real
workers behind nginx: tests/test_cluster.py.)
"""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import redis

from server.problems import InputProblem
from server.store.shared_sessions import RedisRppgSessionStore, connect
from server.vitals.sessions import RppgSessionStore
from server.web.security.shared_throttle import RedisLoginThrottle
from tests.redis_server import redis_server

PULSE_BPM = 72.0
FPS = 30.0
REGIONS = ("forehead", "left_cheek", "right_cheek")


@pytest.fixture(scope="module")
def shared_redis():
    with redis_server() as server:
        yield server


@pytest.fixture
def redis_url(shared_redis):
    connect(shared_redis.url).flushdb()  # each test starts with no sessions and no failures
    return shared_redis.url


def _workers(url: str, **limits) -> tuple[RedisRppgSessionStore, RedisRppgSessionStore]:
    settings = {"max_sessions": 10, "idle_s": 300.0, "method": "pos", "window_s": 10.0, **limits}
    return (RedisRppgSessionStore(connect(url), **settings), RedisRppgSessionStore(connect(url), **settings))


def _pulse_samples(seconds: float, start_s: float = 0.0) -> list[tuple[float, dict, tuple]]:
    """Skin colour of three regions pulsing at PULSE_BPM (0.6 % of green, as in tests/pulse.py), a still face box."""
    rng = np.random.default_rng(0)
    samples = []
    for n in range(int(seconds * FPS)):
        t_s = start_s + n / FPS
        pulse = 1 + 0.006 * np.sin(2 * np.pi * PULSE_BPM / 60 * t_s)
        means = {name: np.array([150.0, 110.0 * pulse, 90.0]) + rng.normal(0, 0.05, 3) for name in REGIONS}
        samples.append((t_s, means, (100, 80, 200, 240)))
    return samples


def test_a_session_made_on_one_worker_takes_frames_and_answers_status_on_the_other(redis_url):
    worker_a, worker_b = _workers(redis_url)
    session = worker_a.create(owner_id=7)
    samples = _pulse_samples(12.0)
    worker_b.add_samples(worker_b.get(session.id, viewer_id=7, sees_all=False), samples[:180])
    worker_a.add_samples(worker_a.get(session.id, viewer_id=7, sees_all=False), samples[180:])
    status = worker_b.status(worker_b.get(session.id))
    assert status["frames_received"] == len(samples) and status["faces_found"] == len(samples)
    assert status["status"] == "ready" and abs(status["heart_rate_bpm"] - PULSE_BPM) <= 6

    alone = RppgSessionStore(max_sessions=10, idle_s=300.0, method="pos", window_s=10.0)
    local = alone.create()
    alone.add_samples(local, samples)
    expected = alone.status(local)
    # the trace kept in Redis replays to the very same heart rate as one process's memory
    for field in ("heart_rate_bpm", "quality", "snr_db", "window_s", "frames_buffered"):
        assert status[field] == expected[field], field
    with pytest.raises(InputProblem):  # another account is told nothing of it
        worker_b.get(session.id, viewer_id=8, sees_all=False)


def test_redis_keeps_only_the_last_window_of_the_trace(redis_url):
    worker_a, _ = _workers(redis_url)
    session = worker_a.create()
    worker_a.add_samples(session, _pulse_samples(30.0))
    trace = json.loads(worker_a.redis.get(f"painscope:rppg:session:{session.id}"))["trace"]
    assert len(trace) <= 11 * FPS + 1  # the 10 s window and the second before it, not 30 s (and never a frame)
    assert [len(means) for _, means, _ in trace] == [len(REGIONS)] * len(trace)
    assert worker_a.status(session)["frames_received"] == 900


def test_the_caps_count_sessions_on_every_worker(redis_url):
    worker_a, worker_b = _workers(redis_url, max_sessions=3, max_per_owner=2)
    worker_a.create(owner_id=1)
    worker_b.create(owner_id=1)
    with pytest.raises(InputProblem) as owner_full:
        worker_a.create(owner_id=1)
    assert owner_full.value.code == "too_many_sessions"
    worker_a.create(owner_id=2)
    with pytest.raises(InputProblem):
        worker_b.create(owner_id=3)  # the cluster's three places are taken
    assert worker_a.count() == worker_b.count() == 3
    closing = worker_b.all(viewer_id=2, sees_all=False)
    assert len(closing) == 1
    worker_a.delete(closing[0].id)
    assert worker_b.create(owner_id=3) is not None


def test_an_idle_session_expires_on_every_worker_and_frees_its_place(redis_url):
    worker_a, worker_b = _workers(redis_url, max_sessions=1, idle_s=1.0)
    session = worker_a.create(owner_id=1)
    time.sleep(1.2)
    with pytest.raises(InputProblem) as gone:
        worker_b.get(session.id)
    assert gone.value.code == "session_not_found"
    assert worker_b.create(owner_id=1) is not None


def test_login_failures_count_across_workers_and_a_success_forgets_them(redis_url):
    worker_a, worker_b = (RedisLoginThrottle(redis_url, max_failures=3, window_s=300, record_factor=4)
                          for _ in range(2))
    for throttle in (worker_a, worker_b, worker_a):
        assert throttle.retry_after("10.0.0.1\nnurse") is None
        throttle.failed("10.0.0.1\nnurse")
    assert 1 <= worker_b.retry_after("10.0.0.1\nnurse") <= 300
    assert worker_b.retry_after("10.0.0.1\nnurse", max_failures=12) is None  # the address-wide allowance
    assert worker_a.retry_after("10.0.0.2\nnurse") is None  # another address is not held back
    worker_b.succeeded("10.0.0.1\nnurse")
    assert worker_a.retry_after("10.0.0.1\nnurse") is None


def test_a_redis_that_does_not_answer_raises_a_redis_error(shared_redis):
    store, _ = _workers(shared_redis.url)
    shared_redis.stop()
    try:
        with pytest.raises(redis.exceptions.RedisError):
            store.create()
    finally:
        shared_redis.start()
    assert store.create() is not None  # the client reconnects by itself
