"""`make cluster`'s launcher (deploy/cluster.py) for real: it starts Redis, PostgreSQL, a worker and
nginx on loopback, serves through nginx, and SIGTERM stops every one of them."""
from __future__ import annotations

import os
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


def test_the_launcher_serves_through_nginx_and_sigterm_stops_everything():
    require_redis(), require_nginx(), require_postgres()
    folder = tempfile.mkdtemp(prefix="painscope-launcher-")
    port = _free_cluster_port()
    launcher = subprocess.Popen(
        [sys.executable, "-m", "deploy.cluster", "--workers", "1", "--port", str(port), "--dir",
         os.path.join(folder, "cluster")], cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S + STOP_TIMEOUT_S
        health = None
        while health is None and time.monotonic() < deadline and launcher.poll() is None:
            try:
                health = requests.get(f"http://{LOCALHOST}:{port}/health", timeout=5).json()
            except requests.RequestException:
                time.sleep(POLL_S)
        assert health is not None and health["status"] == "ok", launcher.poll()
        assert health["worker"]["pid"] != launcher.pid  # a worker answered, through nginx
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=4 * STOP_TIMEOUT_S) == 0
        output = launcher.stdout.read().decode()
        assert "stopping: workers, then nginx, Redis, PostgreSQL" in output
        for offset in (0, REDIS_OFFSET, POSTGRES_OFFSET, FIRST_WORKER_OFFSET):
            assert not _listening(port + offset), offset  # nothing left running
    finally:
        if launcher.poll() is None:  # a failed check: the launcher still stops what it started
            launcher.send_signal(signal.SIGTERM)
            try:
                launcher.wait(timeout=4 * STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                launcher.kill()
                launcher.wait()
        shutil.rmtree(folder, ignore_errors=True)
