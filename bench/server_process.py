"""Shared benchmark helpers: a PainScope server in a subprocess, test frames, percentiles, logging.

The server runs as ``python -m server run --port P`` from the repository root
with the same interpreter as the benchmark, its output going to a temporary
log file whose tail is printed to stderr when something goes wrong.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Sequence

import numpy as np
import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

LOCALHOST = "127.0.0.1"
HEALTH_TIMEOUT_S = 60.0  # the server must answer /health within this long
HEALTH_POLL_INTERVAL_S = 0.25
HEALTH_REQUEST_TIMEOUT_S = 2.0
STOP_TIMEOUT_S = 10.0  # wait this long after SIGTERM before SIGKILL
LOG_TAIL_LINES = 40

FRAME_WIDTH, FRAME_HEIGHT = 640, 480
FRAME_BACKGROUND_GREY = 128
JPEG_QUALITY = 80
PAIN_MOVEMENT = "brow_lower"
PAIN_STRENGTH = 1.0
FRAME_LABEL = f"{FRAME_WIDTH}x{FRAME_HEIGHT} jpeg"


class ServerNotHealthy(RuntimeError):
    """The server exited or never answered /health in time."""


def log(message: str) -> None:
    """Progress message to stderr (stdout is reserved for the JSON result lines)."""
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    """A TCP port that is free right now (bind to port 0 and let the OS choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values`` rounded to 0.01, or None when empty."""
    if not values:
        return None
    return round(float(np.percentile(np.asarray(values, dtype=float), q)), 2)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds used so far by process ``pid`` (Linux /proc), or None when unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        # After "pid (comm)": field 3 is state, so utime/stime (fields 14/15) are at 11/12 here.
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class ServerProcess:
    """Context manager: start the server on a free port, wait for /health, stop it on exit."""

    def __init__(self, port: int | None = None, health_timeout_s: float = HEALTH_TIMEOUT_S) -> None:
        self.port = port or free_port()
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
        self._log_file = tempfile.NamedTemporaryFile(prefix="painscope-bench-", suffix=".log", delete=False)
        self.log_path = self._log_file.name
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
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


def on_canvas(face: np.ndarray, width: int = FRAME_WIDTH, height: int = FRAME_HEIGHT) -> np.ndarray:
    """``face`` (RGB) resized to fit and centred on a grey ``width`` x ``height`` canvas."""
    import cv2

    scale = min(width / face.shape[1], height / face.shape[0])
    w, h = int(round(face.shape[1] * scale)), int(round(face.shape[0] * scale))
    resized = cv2.resize(face, (w, h), interpolation=cv2.INTER_AREA) if (w, h) != face.shape[1::-1] else face
    canvas = np.full((height, width, 3), FRAME_BACKGROUND_GREY, dtype=np.uint8)
    x0, y0 = (width - w) // 2, (height - h) // 2
    canvas[y0 : y0 + h, x0 : x0 + w] = resized
    return canvas


def sample_frames(quality: int = JPEG_QUALITY) -> tuple[bytes, bytes]:
    """(neutral, painful) 640x480 JPEG frames of the synthetic astronaut face."""
    from tests.synthetic import astronaut_face, encode, expression

    neutral = encode(on_canvas(astronaut_face()), "JPEG", quality)
    painful = encode(on_canvas(expression(PAIN_MOVEMENT, PAIN_STRENGTH)), "JPEG", quality)
    return neutral, painful
