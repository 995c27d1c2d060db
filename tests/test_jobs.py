"""Video analyses and pre-fills as jobs, on the in-process engine (server/assess/job_pool.py).

The engine alone, with a stand-in for the work that holds each job where the
test wants it (fair shares, cancel, expiry); then through the app with real
videos and the real analysis (202, progress, result, another account's 404,
cancel, bad uploads, the spool file removed).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from server.assess.job_pool import LocalJobEngine
from server.assess.jobs import (
    CANCELLED, DONE, QUEUED, RUNNING, VIDEO, JobCancelled, JobSpec, next_owner, rotate,
)
from server.config import Settings
from server.store.accounts import create_token, create_user
from tests import media, synthetic
from tests.conftest import authed_client, create_test_app, multipart
from tests.jobs import wait_job

WAIT_S = 30.0


# ---------------------------------------------------------------- the fair share, as a rule


def test_queued_jobs_are_taken_round_robin_within_each_accounts_share():
    rotation = ["a", "b", "c"]
    assert next_owner({"a": 2, "b": 1}, {}, rotation, 1) == "a"
    assert next_owner({"a": 2, "b": 1}, {"a": 1}, rotation, 1) == "b"  # a is at its share
    assert next_owner({"a": 2, "b": 1}, {"a": 1, "b": 1}, rotation, 1) is None
    assert next_owner({"a": 2, "b": 1}, {"a": 1}, rotation, 2) == "a"
    assert rotate(rotation, "a") == ["b", "c", "a"]


# ---------------------------------------------------------------- the engine, with a stand-in for the work


class Gate:
    """A stand-in for a job's work: each job reports progress, then waits until the test releases it."""

    def __init__(self) -> None:
        self.started: list[str] = []  # spool paths, in the order their jobs started
        self.release: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def work(self, _context, spec: JobSpec, progress):
        with self.lock:
            self.started.append(spec.spool_path)
            event = self.release.setdefault(spec.spool_path, threading.Event())
        progress(0.5, 3)
        while not event.wait(0.01):
            progress(0.5, 3)  # a cancelled job stops here, as the analysis does at its next frame
        return DONE, {"spool": spec.spool_path}, None

    def finish(self, name: str) -> None:
        with self.lock:
            self.release.setdefault(name, threading.Event()).set()


def _until(condition, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def _spec(name: str) -> JobSpec:
    return JobSpec(VIDEO, name)


def test_one_accounts_queue_does_not_hold_back_anothers_job():
    gate = Gate()
    engine = LocalJobEngine(lambda: None, workers=1, max_per_owner=1, keep_s=60, work=gate.work)
    a = [engine.submit("alice", _spec(f"a{n}")) for n in range(3)]
    _until(lambda: gate.started == ["a0"])
    b = engine.submit("bob", _spec("b0"))
    gate.finish("a0")
    _until(lambda: len(gate.started) == 2)
    assert gate.started[1] == "b0"  # bob's one job before alice's second and third
    for name in ("b0", "a1", "a2"):
        gate.finish(name)
    _until(lambda: all(engine.get(v.owner, v.id).state == DONE for v in [*a, b]))
    assert gate.started == ["a0", "b0", "a1", "a2"]
    engine.close()


def test_an_account_never_runs_more_than_its_share_even_with_free_workers():
    gate = Gate()
    engine = LocalJobEngine(lambda: None, workers=3, max_per_owner=1, keep_s=60, work=gate.work)
    first, second = engine.submit("alice", _spec("a0")), engine.submit("alice", _spec("a1"))
    engine.submit("bob", _spec("b0"))
    _until(lambda: sorted(gate.started) == ["a0", "b0"])
    time.sleep(0.2)
    assert engine.get("alice", second.id).state == QUEUED  # a worker is free, but alice has her share
    running = engine.get("alice", first.id)
    assert running.state == RUNNING and running.progress == 0.5 and running.frames == 3
    assert running.to_dict()["seconds_left"] is not None
    for name in ("a0", "a1", "b0"):
        gate.finish(name)
    _until(lambda: engine.get("alice", second.id).state == DONE)
    engine.close()


def test_cancel_drops_a_queued_job_and_stops_a_running_one(tmp_path: Path):
    gate = Gate()
    engine = LocalJobEngine(lambda: None, workers=1, max_per_owner=1, keep_s=60, work=gate.work)
    running_file, queued_file = tmp_path / "running.upload", tmp_path / "queued.upload"
    running_file.write_bytes(b"video"), queued_file.write_bytes(b"video")
    running = engine.submit("alice", _spec(str(running_file)))
    queued = engine.submit("alice", _spec(str(queued_file)))
    _until(lambda: gate.started == [str(running_file)])
    assert engine.cancel("bob", queued.id) is None  # not bob's
    assert engine.cancel("alice", queued.id).state == CANCELLED
    assert not queued_file.exists()  # the upload of a dropped job is deleted at once
    assert engine.cancel("alice", running.id).state == CANCELLED
    _until(lambda: not running_file.exists())  # the worker stopped at its next report and removed the upload
    assert engine.get("alice", running.id).state == CANCELLED and gate.started == [str(running_file)]
    engine.close()


def test_an_ended_job_is_kept_for_the_keep_time_then_forgotten():
    now = [1000.0]
    gate = Gate()
    engine = LocalJobEngine(lambda: None, workers=1, max_per_owner=1, keep_s=3600, clock=lambda: now[0],
                            work=gate.work)
    job = engine.submit("alice", _spec("a0"))
    gate.finish("a0")
    _until(lambda: engine.get("alice", job.id).state == DONE)
    assert engine.get("alice", job.id).result == {"spool": "a0"}
    now[0] += 3599
    assert engine.get("alice", job.id) is not None
    now[0] += 2
    assert engine.get("alice", job.id) is None and engine.jobs_of("alice") == []
    engine.close()


def test_how_a_jobs_work_ends_is_its_state(monkeypatch):
    from server.assess import job_work
    from server.problems import InputProblem

    def raising(error):
        def run(_context, _spec, _progress):
            raise error
        return run

    for error, expected in ((JobCancelled(), ("cancelled", None, None)),
                            (InputProblem("no_face", "No face."), ("failed", None, {"code": "no_face", "message": "No face."})),
                            (RuntimeError("bug"), ("failed", None, {"code": "internal_error",
                                                                    "message": job_work.INTERNAL_ERROR_MESSAGE}))):
        monkeypatch.setattr(job_work, "run_job", raising(error))
        assert job_work.attempt(None, _spec("x"), lambda *_: None) == expected


# ---------------------------------------------------------------- through the app, the real analysis


@pytest.fixture(scope="module")
def job_app(tmp_path_factory):
    """An app whose jobs spool into a folder the tests can look into; a second account's token."""
    spool = tmp_path_factory.mktemp("spool")
    app = create_test_app(Settings(job_spool_dir=str(spool), max_video_seconds=30.0))
    db = app.extensions["painscope"].db
    create_user(db, "other", "another long enough password")
    app.config["OTHER_TOKEN"] = create_token(db, "other", "tests")[1]
    app.config["SPOOL"] = spool
    return app


def _clip(seconds: float, fps: int = 10) -> bytes:
    return media.write_video([synthetic.astronaut_face()] * int(seconds * fps), fps=fps)


def _submit(client, video: bytes, url: str = "/api/v1/analyze/video"):
    return client.post(url, data=multipart(video=video), content_type="multipart/form-data")


def test_a_video_job_runs_with_progress_to_its_result_and_is_its_accounts_only(job_app):
    client = authed_client(job_app)
    submitted = _submit(client, _clip(12))
    assert submitted.status_code == 202
    job = submitted.get_json()
    assert job["state"] == "queued" and job["progress"] == 0 and job["kind"] == "video"
    seen = []
    deadline = time.monotonic() + 120
    while True:
        state = client.get(f"/api/v1/jobs/{job['id']}").get_json()
        seen.append(state)
        if state["state"] in ("done", "failed", "cancelled") or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert state["state"] == "done", state
    assert state["progress"] == 1 and state["frames"] == 60 and state["seconds_left"] == 0
    assert len(state["result"]["timeline"]) == 60 and state["result"]["summary"]["duration_s"] == pytest.approx(12, abs=0.2)
    partial = [s for s in seen if s["state"] == "running" and 0 < s["progress"] < 1]
    assert partial, "no progress was seen while the job ran"
    assert all(b["progress"] >= a["progress"] for a, b in zip(partial, partial[1:]))
    other = job_app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {job_app.config['OTHER_TOKEN']}"
    for method in (other.get, other.delete):
        refused = method(f"/api/v1/jobs/{job['id']}")
        assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "job_not_found"
    assert list(Path(job_app.config["SPOOL"]).iterdir()) == []  # the upload is gone once the job ended


def test_a_running_video_job_is_cancelled(job_app):
    client = authed_client(job_app)
    job = _submit(client, _clip(25)).get_json()
    _until(lambda: client.get(f"/api/v1/jobs/{job['id']}").get_json()["frames"] > 0, 120)
    cancelled = client.delete(f"/api/v1/jobs/{job['id']}")
    assert cancelled.status_code == 200 and cancelled.get_json()["state"] == "cancelled"
    ended = wait_job(client, job["id"])
    assert ended["state"] == "cancelled" and "result" not in ended
    _until(lambda: list(Path(job_app.config["SPOOL"]).iterdir()) == [])


@pytest.mark.parametrize("video, status, code", [
    (b"", 400, "empty"),
    (b"plain text, not a video", 415, "unsupported_media_type"),
    ("too long", 413, "too_long"),
])
def test_a_bad_upload_is_refused_at_submission(job_app, video, status, code):
    if video == "too long":
        video = _clip(31, fps=2)  # the app allows 30 s; the container says 31
    response = _submit(authed_client(job_app), video)
    assert response.status_code == status and response.get_json()["error"]["code"] == code
    assert list(Path(job_app.config["SPOOL"]).iterdir()) == []  # nothing kept of a refused upload


def test_a_truncated_mp4_is_refused_at_submission(job_app):
    video = _clip(2)
    response = _submit(authed_client(job_app), video[: len(video) // 2])  # MP4's index (moov) is at its end
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "corrupt_video"


def test_a_video_that_breaks_while_analysed_makes_a_failed_job_with_the_error_shape(job_app):
    client = authed_client(job_app)
    video = bytearray(media.write_video([synthetic.astronaut_face()] * 20, fps=10, suffix=".avi", fourcc="MJPG"))
    video[2048:-2048] = bytes(len(video) - 4096)  # the AVI header opens; every frame is zeros
    response = _submit(client, bytes(video))
    assert response.status_code == 202
    ended = wait_job(client, response.get_json()["id"])
    assert ended["state"] == "failed"
    assert ended["error"]["code"] == "corrupt_video" and ended["error"]["message"]


def test_a_prefill_of_a_video_is_a_job_too(job_app):
    client = authed_client(job_app)
    response = _submit(client, _clip(3), "/api/v1/scales/painad/prefill")
    assert response.status_code == 202 and response.get_json()["kind"] == "prefill"
    ended = wait_job(client, response.get_json()["id"])
    assert ended["state"] == "done", ended
    assert ended["result"]["scale"] == "painad" and ended["result"]["measured"]["kind"] == "video"


def test_the_pages_socket_is_told_of_its_accounts_jobs_as_they_change(job_app):
    from server import socketio_of

    client = authed_client(job_app)
    socket = socketio_of(job_app).test_client(job_app, namespace="/jobs", auth={"token": job_app.config["TEST_API_TOKEN"]})
    other = socketio_of(job_app).test_client(job_app, namespace="/jobs", auth={"token": job_app.config["OTHER_TOKEN"]})
    assert socketio_of(job_app).test_client(job_app, namespace="/jobs", auth={"token": "nope"}).is_connected("/jobs") is False
    socket.get_received("/jobs"), other.get_received("/jobs")  # what the account had before
    job = _submit(client, _clip(6)).get_json()
    events: list[dict] = []

    def ended() -> bool:
        events.extend(e["args"][0] for e in socket.get_received("/jobs") if e["name"] == "job")
        return any(e["id"] == job["id"] and e["state"] == "done" for e in events)

    _until(ended, 120)
    mine = [e for e in events if e["id"] == job["id"]]
    assert any(e["state"] == "running" and 0 < e["progress"] < 1 for e in mine), mine
    assert mine[-1]["result"]["summary"]["frames_analysed"] == 30
    assert not [e for e in other.get_received("/jobs") if e["args"][0]["id"] == job["id"]]  # not theirs
    socket.disconnect("/jobs"), other.disconnect("/jobs")
