"""A throwaway Redis on loopback for the cluster tests (Debian's ``redis-server``), stopped afterwards.

Nothing is kept on disk (``--save ""``). ``stop()`` and ``start()`` again on the
same port let a test take Redis away and bring it back.
"""
from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from typing import Iterator

import redis

from tests.prerequisites import missing, stop_process
from tests.server_process import LOCALHOST, free_port

START_TIMEOUT_S = 20.0
POLL_S = 0.1


def require_redis() -> str:
    """The redis-server program; skips without it, except in CI, where that is a failure."""
    program = shutil.which("redis-server")
    if program is not None:
        return program
    message = "redis-server is needed for these tests (Debian package redis-server; `make test` installs it as root)"
    missing(message)


class RedisServer:
    """One redis-server process on ``port``; ``url`` for clients."""

    def __init__(self, program: str, folder: str) -> None:
        self.program, self.folder = program, folder
        self.port = free_port()
        self.url = f"redis://{LOCALHOST}:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start and wait until it answers PING."""
        self.process = subprocess.Popen(
            [self.program, "--bind", LOCALHOST, "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", self.folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                client.ping()
                return
            except redis.exceptions.ConnectionError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                time.sleep(POLL_S)

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is not None:
            stop_process(self.process, START_TIMEOUT_S)


@contextlib.contextmanager
def redis_server() -> Iterator[RedisServer]:
    """A fresh Redis on a free loopback port; stopped and its folder removed afterwards."""
    program = require_redis()
    folder = tempfile.mkdtemp(prefix="painscope-redis-")
    server = RedisServer(program, folder)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
