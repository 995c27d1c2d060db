"""`make cluster`'s launcher (deploy/cluster.py) for real: it starts Redis, PostgreSQL, a worker, a job
worker and nginx on loopback, serves through nginx (a video job runs on the job worker), starts a killed
worker again, and SIGTERM stops every one of them."""
from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

from deploy.cluster import FIRST_WORKER_OFFSET, POSTGRES_OFFSET, REDIS_OFFSET, START_TIMEOUT_S, STOP_TIMEOUT_S
from tests.nginx_server import require_nginx
from tests.postgres_server import require_postgres
from tests.redis_server import require_redis
from tests.server_process import LOCALHOST, REPO_ROOT, free_port

POLL_S = 0.5
PORT_TRIES = 20


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex((LOCALHOST, port)) == 0


def _free_cluster_port() -> int:
    """A port whose offsets (Redis, PostgreSQL, the worker) are free too."""
    for _ in range(PORT_TRIES):
        port = free_port()
        if not any(_listening(port + offset) for offset in (REDIS_OFFSET, POSTGRES_OFFSET, FIRST_WORKER_OFFSET)):
            return port
    raise RuntimeError("no free block of ports")


# /health names the worker only to a login or a monitor with the scrape token (the workers inherit it)
SCRAPE_TOKEN = "a scrape token for the launcher test"
MONITOR = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}


def _read_until(launcher: subprocess.Popen, text: str, seen: bytearray, deadline: float) -> bool:
    """Read the launcher's output into ``seen`` until ``text`` is in it (True) or the deadline passes."""
    while text.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([launcher.stdout], [], [], POLL_S)
        if ready:
            chunk = os.read(launcher.stdout.fileno(), 4096)
            if not chunk:
                break
            seen.extend(chunk)
    return text.encode() in seen


def _health(port: int, deadline: float, launcher: subprocess.Popen, not_pid: int | None = None) -> dict | None:
    """/health on ``port`` once it answers (from a worker other than ``not_pid``), or None by the deadline."""
    while time.monotonic() < deadline and launcher.poll() is None:
        try:
            health = requests.get(f"http://{LOCALHOST}:{port}/health", headers=MONITOR, timeout=5).json()
            if health["worker"]["pid"] != not_pid:
                return health
        except requests.RequestException:
            pass
        time.sleep(POLL_S)
    return None


def _a_video_job_runs_on_the_job_worker(port: int) -> None:
    """A video posted through nginx is a job that the cluster's RQ job worker runs to its result."""
    from server.store.accounts import FIRST_ADMIN, create_token
    from server.store.db import Database
    from tests import media, synthetic

    db = Database(f"postgresql+psycopg://painscope@{LOCALHOST}:{port + POSTGRES_OFFSET}/painscope")
    try:
        token = create_token(db, FIRST_ADMIN, "tests")[1]
    finally:
        db.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    video = media.write_video([synthetic.astronaut_face()] * 20, fps=10)
    base = f"http://{LOCALHOST}:{port}"
    submitted = requests.post(f"{base}/api/v1/analyze/video", headers=headers, files={"video": ("clip.mp4", video)},
                              timeout=60)
    assert submitted.status_code == 202, submitted.text
    deadline = time.monotonic() + START_TIMEOUT_S + 60  # the job worker loads its models first
    while True:
        job = requests.get(f"{base}/api/v1/jobs/{submitted.json()['id']}", headers=headers, timeout=10).json()
        if job["state"] not in ("queued", "running") or time.monotonic() > deadline:
            break
        time.sleep(POLL_S)
    assert job["state"] == "done" and len(job["result"]["timeline"]) == 10, job


def _stop_launcher(launcher: subprocess.Popen, folder: str) -> None:
    """After a test, pass or fail: the launcher still stops what it started (SIGTERM, else killed), and its
    folder goes."""
    if launcher.poll() is None:
        launcher.send_signal(signal.SIGTERM)
        try:
            launcher.wait(timeout=4 * STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            launcher.kill()
            launcher.wait()
    shutil.rmtree(folder, ignore_errors=True)


def test_the_launcher_serves_through_nginx_restarts_a_killed_worker_and_sigterm_stops_everything():
    require_redis(), require_nginx(), require_postgres()
    folder = tempfile.mkdtemp(prefix="painscope-launcher-")
    port = _free_cluster_port()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "deploy.cluster", "--workers", "1", "--port", str(port), "--dir",
         os.path.join(folder, "cluster")], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**os.environ, "PAINSCOPE_METRICS_TOKEN": SCRAPE_TOKEN})
    try:
        output = bytearray()
        started = _read_until(launcher, "Ctrl-C stops it.", output, time.monotonic() + START_TIMEOUT_S + STOP_TIMEOUT_S)
        assert started, output.decode()[-3000:]  # the launcher is up and watching its workers
        health = _health(port, time.monotonic() + STOP_TIMEOUT_S, launcher)
        assert health is not None and health["status"] == "ok", launcher.poll()
        worker = health["worker"]["pid"]
        assert worker != launcher.pid  # a worker answered, through nginx
        _a_video_job_runs_on_the_job_worker(port)
        os.kill(worker, signal.SIGKILL)  # a crash: the launcher starts it again, nginx finds it on its port
        again = _health(port, time.monotonic() + START_TIMEOUT_S + STOP_TIMEOUT_S, launcher, not_pid=worker)
        assert again is not None and again["status"] == "ok", launcher.poll()
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=4 * STOP_TIMEOUT_S) == 0
        output = (output + launcher.stdout.read()).decode()
        assert "starting it again" in output and "stopping: workers, then nginx, Redis, PostgreSQL" in output
        for offset in (0, REDIS_OFFSET, POSTGRES_OFFSET, FIRST_WORKER_OFFSET):
            assert not _listening(port + offset), offset  # nothing left running
    finally:
        _stop_launcher(launcher, folder)


def test_the_launcher_with_tls_self_signed_makes_a_ca_serves_https_and_redirects_plain_http():
    require_redis(), require_nginx(), require_postgres()
    folder = tempfile.mkdtemp(prefix="painscope-launcher-tls-")
    port, redirect_port = _free_cluster_port(), free_port()
    env = {**os.environ, "PAINSCOPE_HTTP_REDIRECT_PORT": str(redirect_port)}
    env.pop("PAINSCOPE_TLS_CERT", None), env.pop("PAINSCOPE_TLS_KEY", None)
    launcher = subprocess.Popen(
        [sys.executable, "-m", "deploy.cluster", "--workers", "1", "--port", str(port), "--tls", "self-signed",
         "--dir", os.path.join(folder, "cluster")],
        cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        output = bytearray()
        started = _read_until(launcher, "Ctrl-C stops it.", output, time.monotonic() + START_TIMEOUT_S + STOP_TIMEOUT_S)
        text = output.decode()
        assert started, text[-3000:]
        ca = os.path.join(folder, "cluster", "tls", "ca.pem")
        assert f"trust {ca} on each tablet" in text and f"on https://{LOCALHOST}:{port}" in text
        health = requests.get(f"https://{LOCALHOST}:{port}/health", verify=ca, timeout=5)
        assert health.json()["status"] == "ok"
        assert health.headers["Strict-Transport-Security"] == "max-age=31536000"  # the worker: X-Forwarded-Proto
        login = requests.get(f"https://{LOCALHOST}:{port}/login", verify=ca, timeout=5)
        cookies = login.raw.headers.getlist("Set-Cookie")  # the session (its CSRF token) and nginx's worker key
        assert cookies and all("; Secure" in cookie for cookie in cookies if cookie.startswith("session="))
        moved = requests.get(f"http://{LOCALHOST}:{redirect_port}/patients?q=1", allow_redirects=False, timeout=5)
        assert moved.status_code == 308
        assert moved.headers["Location"] == f"https://{LOCALHOST}:{port}/patients?q=1"
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=4 * STOP_TIMEOUT_S) == 0
    finally:
        _stop_launcher(launcher, folder)
