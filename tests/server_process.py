"""A real PainScope server (eventlet, ``python -m server run``) in a subprocess, for tests and benchmarks.

Output goes to a temporary log file whose tail is printed to stderr when
something goes wrong; the log is deleted after a clean run.
"""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Iterator

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCALHOST = "127.0.0.1"
HEALTH_TIMEOUT_S = 60.0  # the server must answer /health within this long
HEALTH_POLL_INTERVAL_S = 0.25
HEALTH_REQUEST_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 10.0  # wait this long after SIGTERM before SIGKILL
LOG_TAIL_LINES = 40


class ServerNotHealthy(RuntimeError):
    """The server exited or never answered /health in time."""


def log(message: str) -> None:
    """Progress message to stderr (a benchmark's stdout carries only its JSON lines)."""
    print(f"[painscope] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port that is free right now (bind to port 0 and let the OS choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """Context manager: start the server on a free port, wait for /health, stop it on exit."""

    def __init__(
        self, port: int | None = None, health_timeout_s: float = HEALTH_TIMEOUT_S, env: dict[str, str] | None = None
    ) -> None:
        self.port = port or free_port()
        self.extra_env = env or {}
        self.health_timeout_s = health_timeout_s
        self.base_url = f"http://{LOCALHOST}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self.log_path: str | None = None

    def __enter__(self) -> "ServerProcess":
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.print_log_tail()
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        failed = exc_type is not None
        if failed and exc_type is not KeyboardInterrupt:
            self.print_log_tail()
        self.stop()
        if not failed:
            self.remove_log()

    @property
    def pid(self) -> int:
        """The server's process id (after ``start()``)."""
        assert self.process is not None, "start() first"
        return self.process.pid

    def start(self) -> None:
        """Launch ``python -m server run --port P`` with output to a temporary log file."""
        self._log_file = tempfile.NamedTemporaryFile(prefix="painscope-server-", suffix=".log", delete=False)
        self.log_path = self._log_file.name
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **self.extra_env}
        command = [sys.executable, "-m", "server", "run", "--port", str(self.port)]
        log(f"starting server: {' '.join(command)} (log: {self.log_path})")
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def wait_healthy(self) -> dict:
        """Poll ``GET /health`` until it says ``status: ok``; raise ServerNotHealthy on exit or timeout."""
        assert self.process is not None, "start() first"
        deadline = time.monotonic() + self.health_timeout_s
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise ServerNotHealthy(f"server exited with code {code} before becoming healthy")
            try:
                response = requests.get(f"{self.base_url}/health", timeout=HEALTH_REQUEST_TIMEOUT_S)
                if response.ok and response.json().get("status") == "ok":
                    log(f"server healthy on port {self.port}")
                    return response.json()
            except (requests.RequestException, ValueError):
                pass
            time.sleep(HEALTH_POLL_INTERVAL_S)
        raise ServerNotHealthy(f"server not healthy after {self.health_timeout_s:.0f} s")

    def stop(self) -> None:
        """Terminate the server and wait for it (kill if it does not exit in time)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log("server ignored SIGTERM; killing it")
                self.process.kill()
                self.process.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def remove_log(self) -> None:
        """Delete the server log (kept when a run fails, so it can be read)."""
        if self.log_path:
            Path(self.log_path).unlink(missing_ok=True)
            self.log_path = None

    def print_log_tail(self, lines: int = LOG_TAIL_LINES) -> None:
        """The last ``lines`` lines of the server log, to stderr."""
        if not self.log_path:
            return
        if self._log_file is not None:
            self._log_file.flush()
        try:
            text = Path(self.log_path).read_text(errors="replace")
        except OSError as error:
            log(f"cannot read server log {self.log_path}: {error}")
            return
        tail = "\n".join(text.splitlines()[-lines:])
        log(f"--- last {lines} lines of server log {self.log_path} ---\n{tail}\n--- end of server log ---")


@contextlib.contextmanager
def running_server(env: dict[str, str] | None = None) -> Iterator[str]:
    """Yield the base URL of a freshly started server; stop it afterwards."""
    with ServerProcess(env=env) as server:
        yield server.base_url
