"""Jobs on RQ and a real Redis (server/assess/job_queue.py): real worker processes
(``python -m server.assess.job_worker``) run the real analysis.

A video job runs to its result; another account gets 404; one account's
queue does not hold back another's job; a queued job is cancelled; a finished
job's hash expires after the keep time; a worker killed mid-job leaves the job
failed ``worker_lost``, never stuck running, and the next job still runs.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from server.assess.job_queue import PREFIX
from server.config import Settings
from server.store.accounts import account_for_token, create_token, create_user
from tests import media, synthetic
from tests.conftest import authed_client, create_test_app, multipart
from tests.jobs import wait_job
from tests.prerequisites import stop_process
from tests.redis_server import redis_server
from tests.server_process import REPO_ROOT

HEARTBEAT_TIMEOUT_S = 4.0  # the test app's: a silent worker is declared lost this soon
KEEP_S = 600
WORKER_START_S = 120.0
POLL_S = 0.05


def _wait(condition, timeout_s: float = 120.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL_S)


class Workers:
    """RQ worker processes with the app's settings; each in its own session so it can be killed whole."""

    def __init__(self, env: dict[str, str], folder: str) -> None:
        self.env, self.folder = env, folder
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        log = open(os.path.join(self.folder, f"worker-{len(self.processes)}.log"), "ab")
        process = subprocess.Popen([sys.executable, "-m", "server.assess.job_worker"], cwd=REPO_ROOT,
                                   env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            stop_process(process, 10.0)
            for child in _children(process.pid):
                _kill(child)


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (an RQ worker's work horse), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def cluster():
    """Redis, an app on the RQ engine (as one web worker of a cluster) and one RQ worker."""
    folder = tempfile.mkdtemp(prefix="painscope-rq-")
    with redis_server() as redis:
        settings = Settings(
            redis_url=redis.url, job_engine="rq", job_spool_dir=os.path.join(folder, "spool"),
            job_heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S, job_keep_seconds=KEEP_S, instance_dir=folder,
        )
        app = create_test_app(settings)
        db = app.extensions["painscope"].db
        create_user(db, "other", "another long enough password")
        app.config["OTHER_TOKEN"] = create_token(db, "other", "tests")[1]
        env = {"PAINSCOPE_REDIS_URL": redis.url, "PAINSCOPE_JOB_ENGINE": "rq", "PAINSCOPE_INSTANCE_DIR": folder,
               "PAINSCOPE_JOB_SPOOL_DIR": settings.job_spool_dir, "PAINSCOPE_JOB_KEEP_SECONDS": str(KEEP_S),
               "GLOG_minloglevel": "2"}
        workers = Workers(env, folder)
        workers.start()
        try:
            yield app, workers, redis
        finally:
            workers.stop_all()


def _clip(seconds: float, fps: int = 10) -> bytes:
    return media.write_video([synthetic.astronaut_face()] * int(seconds * fps), fps=fps)


def _submit(client, video: bytes):
    response = client.post("/api/v1/analyze/video", data=multipart(video=video), content_type="multipart/form-data")
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def _other(app):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {app.config['OTHER_TOKEN']}"
    return client


def _state(client, job_id: str) -> dict:
    return client.get(f"/api/v1/jobs/{job_id}").get_json()


def test_a_video_job_runs_on_an_rq_worker_to_its_result(cluster):
    app, _workers, redis = cluster
    client = authed_client(app)
    job = _submit(client, _clip(4))
    ended = wait_job(client, job["id"], timeout_s=WORKER_START_S + 60)  # the first job waits for the worker's start
    assert ended["state"] == "done", ended
    assert len(ended["result"]["timeline"]) == 20 and ended["result"]["peak"] is not None
    assert ended["progress"] == 1 and ended["frames"] == 20
    assert _other(app).get(f"/api/v1/jobs/{job['id']}").status_code == 404
    import redis as redis_client

    ttl = redis_client.Redis.from_url(redis.url).ttl(f"{PREFIX}job:{job['id']}")
    assert 0 < ttl <= KEEP_S  # removed after the keep time
    assert list(Path(app.extensions["painscope"].settings.job_spool_dir).iterdir()) == []


def test_another_accounts_job_runs_before_this_accounts_queue_and_a_queued_job_is_cancelled(cluster):
    app, _workers, _redis = cluster
    mine, theirs = authed_client(app), _other(app)
    engine = app.extensions["painscope"].jobs
    first = _submit(mine, _clip(6))
    second = _submit(mine, _clip(2))
    third = _submit(mine, _clip(2))
    _wait(lambda: _state(mine, first["id"])["state"] == "running", what="the first job to run")
    other = _submit(theirs, _clip(2))
    assert _state(mine, second["id"])["state"] == "queued"
    cancelled = mine.delete(f"/api/v1/jobs/{third['id']}").get_json()
    assert cancelled["state"] == "cancelled"
    for client, job in ((mine, first), (mine, second), (theirs, other)):
        assert wait_job(client, job["id"])["state"] == "done"
    owner_mine, owner_theirs = _owner(app, app.config["TEST_API_TOKEN"]), _owner(app, app.config["OTHER_TOKEN"])
    started = {
        "second": engine.get(owner_mine, second["id"]).started_at,
        "other": engine.get(owner_theirs, other["id"]).started_at,
    }
    assert started["other"] < started["second"], started  # the other account's one job went first
    assert _state(mine, third["id"])["state"] == "cancelled"


def _owner(app, token: str) -> str:
    """The job owner of a token's account (server/web/requests/uploads.py job_owner: the account's id)."""
    return str(account_for_token(app.extensions["painscope"].db, token).id)


def test_a_worker_killed_mid_job_leaves_it_failed_and_the_next_job_runs(cluster):
    app, workers, _redis = cluster
    client = authed_client(app)
    job = _submit(client, _clip(40, fps=15))
    _wait(lambda: _state(client, job["id"])["frames"] > 0, what="the job to be under way")
    worker = workers.processes[-1]
    horses = _children(worker.pid)
    assert horses, "the worker has no work horse"
    for pid in [worker.pid, *horses]:  # the whole worker, as a machine losing power would
        _kill(pid)
    ended = _wait(lambda: (s := _state(client, job["id"]))["state"] != "running" and s, HEARTBEAT_TIMEOUT_S + 30,
                  "the job to stop running")
    assert ended["state"] == "failed" and ended["error"]["code"] == "worker_lost", ended
    assert ended["error"]["message"]
    workers.start()  # what make cluster's launcher does for a worker that exits
    again = _submit(client, _clip(2))
    assert wait_job(client, again["id"], timeout_s=WORKER_START_S + 60)["state"] == "done"


def test_a_work_horse_killed_mid_job_leaves_it_failed_at_once(cluster):
    app, workers, _redis = cluster
    client = authed_client(app)
    job = _submit(client, _clip(40, fps=15))
    _wait(lambda: _state(client, job["id"])["frames"] > 0, WORKER_START_S, "the job to be under way")
    for horse in _children(workers.processes[-1].pid):  # the analysis crashes; its worker lives on
        _kill(horse)
    ended = wait_job(client, job["id"], timeout_s=30)
    assert ended["state"] == "failed" and ended["error"]["code"] == "worker_lost", ended


def test_a_job_handed_to_rq_but_not_started_is_cancelled_and_never_runs(cluster):
    app, _workers, _redis = cluster
    mine, theirs = authed_client(app), _other(app)
    busy = _submit(mine, _clip(8))
    _wait(lambda: _state(mine, busy["id"])["state"] == "running", WORKER_START_S, "the first job to run")
    waiting = _submit(theirs, _clip(2))  # its account has no job running: handed to RQ, behind the busy worker
    from rq import Queue

    from server.assess.job_queue import QUEUE_NAME

    queue = Queue(QUEUE_NAME, connection=app.extensions["painscope"].jobs.redis)
    assert waiting["id"] in queue.job_ids
    assert theirs.delete(f"/api/v1/jobs/{waiting['id']}").get_json()["state"] == "cancelled"
    assert waiting["id"] not in queue.job_ids
    assert wait_job(mine, busy["id"])["state"] == "done"
    time.sleep(1.0)
    ended = _state(theirs, waiting["id"])
    assert ended["state"] == "cancelled" and ended["frames"] == 0  # the worker never ran it
