"""Start the real PainScope server (eventlet, `python -m server run`) in a subprocess for a test."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterator

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """Yield the base URL of a freshly started server; stop it afterwards."""
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="painscope-server-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [sys.executable, "-m", "server", "run", "--port", str(port)],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process, log.name)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        os.unlink(log.name)


def _wait_healthy(url: str, process: subprocess.Popen, log_path: str) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if requests.get(url + "/health", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        raise RuntimeError(f"server did not become healthy:\n{handle.read()[-3000:]}")
