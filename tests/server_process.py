"""A real PainScope server (eventlet, ``python -m server run``) in a subprocess, for tests and benchmarks.

Output goes to a temporary log file whose tail is printed to stderr when
something goes wrong; the log is deleted after a clean run. Each server gets
its own instance folder (SQLite database, secret key) holding a test account
``tester`` and an API token (``headers`` sends it), unless one is given.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Iterator

import requests

from tests.prerequisites import stop_process

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCALHOST = "127.0.0.1"
HEALTH_TIMEOUT_S = 60.0  # the server must answer /health within this long
HEALTH_POLL_INTERVAL_S = 0.25
HEALTH_REQUEST_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 10.0  # wait this long after SIGTERM before SIGKILL
LOG_TAIL_LINES = 40
TEST_USER = "tester"
TEST_PASSWORD = "test password for the test server"


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
        self,
        port: int | None = None,
        health_timeout_s: float = HEALTH_TIMEOUT_S,
        env: dict[str, str] | None = None,
        instance_dir: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        """``ca_file``: with PAINSCOPE_TLS_CERT in ``env`` the server speaks HTTPS; the CA that signed it."""
        self.port = port or free_port()
        self.extra_env = env or {}
        self._own_instance = instance_dir is None
        self.instance_dir = instance_dir or tempfile.mkdtemp(prefix="painscope-instance-")
        self.user, self.password = TEST_USER, TEST_PASSWORD
        self.token = _test_account(self.instance_dir, self.extra_env.get("PAINSCOPE_DATABASE_URL", ""))
        self.health_timeout_s = health_timeout_s
        scheme = "https" if self.extra_env.get("PAINSCOPE_TLS_CERT") else "http"
        self.base_url = f"{scheme}://{LOCALHOST}:{self.port}"
        self.verify: str | bool = ca_file or True  # requests' verify: the test CA for a TLS server
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
            self.remove_instance()

    @property
    def headers(self) -> dict[str, str]:
        """The test account's API token as an Authorization header."""
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def pid(self) -> int:
        """The server's process id (after ``start()``)."""
        assert self.process is not None, "start() first"
        return self.process.pid

    def start(self) -> None:
        """Launch ``python -m server run --port P`` with output to a temporary log file."""
        self._log_file = tempfile.NamedTemporaryFile(prefix="painscope-server-", suffix=".log", delete=False)
        self.log_path = self._log_file.name
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PAINSCOPE_INSTANCE_DIR": self.instance_dir, **self.extra_env}
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
                response = requests.get(
                    f"{self.base_url}/health", timeout=HEALTH_REQUEST_TIMEOUT_S, verify=self.verify)
                if response.ok and response.json().get("status") == "ok":
                    log(f"server healthy on port {self.port}")
                    return response.json()
            except (requests.RequestException, ValueError):
                pass
            time.sleep(HEALTH_POLL_INTERVAL_S)
        raise ServerNotHealthy(f"server not healthy after {self.health_timeout_s:.0f} s")

    def stop(self) -> None:
        """Terminate the server and wait for it (kill if it does not exit in time)."""
        if self.process is not None and stop_process(self.process, STOP_TIMEOUT_S):
            log("server ignored SIGTERM; killed it")
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to clean up (tests of what survives a crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def remove_instance(self) -> None:
        """Delete the instance folder this object made (a given one is left alone)."""
        if self._own_instance:
            shutil.rmtree(self.instance_dir, ignore_errors=True)

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


def _test_account(instance_dir: str, url: str) -> str:
    """Create the test user (if missing) in the server's database; a fresh API token for it."""
    from server.store.accounts import AccountError, create_token, create_user
    from server.store.db import Database, database_url

    db = Database(database_url(url, instance_dir))
    try:
        db.upgrade()
        try:
            create_user(db, TEST_USER, TEST_PASSWORD, admin=True)
        except AccountError:  # a reused instance folder already has it
            pass
        return create_token(db, TEST_USER, "tests")[1]
    finally:
        db.dispose()


@contextlib.contextmanager
def running_server(env: dict[str, str] | None = None, ca_file: str | None = None) -> Iterator[ServerProcess]:
    """Yield a freshly started server (``base_url``, ``headers``, ``user``/``password``); stop it afterwards.
    ``ca_file``: the CA of a TLS server's certificate (``env`` with PAINSCOPE_TLS_CERT / _KEY)."""
    with ServerProcess(env=env, ca_file=ca_file) as server:
        yield server
