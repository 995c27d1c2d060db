"""The server's voice: one speech engine per process, fed through a real-thread-safe queue, every render timed out.

Issue 25: two overlapping ``GET /api/v1/speech.wav`` jammed the server for
good. The old renderer guarded one pyttsx3 engine with a ``threading.Lock``,
which eventlet had made green, and used it from real threads; nothing timed
out, so every later request hung a pool thread until photo uploads, logins and
live streams starved. Now:

- the engine lives in one child process (``speech_worker.py``), started on the
  first render and again after it died or was killed;
- one real OS thread (not eventlet's pool, which uploads need) talks to it,
  taking jobs from a queue of the original, unpatched ``queue`` module;
- every render has a deadline (``Settings.speech_timeout_s``); a worker that
  misses it is killed, the request gets :class:`SpeechUnavailable` (503
  ``speech_unavailable``), and the next request starts a fresh worker;
- rendered phrases are cached (there are few distinct sentences: a level, "not
  calibrated", a heart rate), and a text already being rendered is waited for,
  not queued twice; at most ``max_pending`` distinct texts wait (503 beyond);
- the request's green thread waits by polling (``offload.wait_real_event``), so
  the event loop keeps serving while a render runs.
"""
from __future__ import annotations

import collections
import contextlib
import importlib.util
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from server.assess.offload import real_module, wait_real_event
from server.assess.speech_worker import FAILED, HEADER, REQUEST

log = logging.getLogger(__name__)

# A phrase is a few words: espeak-ng renders one in ~50-150 ms; the worker's start (Python, pyttsx3,
# espeak-ng's voice data) ~0.3-1 s. The deadline is a setting (Settings.speech_timeout_s).
WORKER_MODULE = "server.assess.speech_worker"
# A WAV header alone is 44 bytes (RIFF, fmt and data chunk headers): an answer that short holds no sound,
# which is how the old renderer's 200 with an empty body looked.
MIN_WAV_BYTES = 44
# Waiting beyond the render deadline for a job that is already running: the thread's own bookkeeping.
WAIT_MARGIN_S = 1.0


# A request with a voice is "voice<SEP>text" (speech_worker.split_voice): voices never hold a NUL.
VOICE_SEPARATOR = "\x00"


class SpeechUnavailable(RuntimeError):
    """The server's voice cannot answer now (no engine, busy, or a render timed out); the message says why."""


@dataclass
class _Job:
    """One text to render; ``done`` is set (by the speech thread) when ``wav`` or ``error`` is."""

    text: str
    done: Any  # an original (unpatched) threading.Event
    wav: bytes | None = None
    error: str | None = None
    waiters: int = field(default=1)


class SpeechEngine:
    """Renders text to WAV in a killable child process, one text at a time, with a cache."""

    def __init__(
        self, rate_wpm: int, timeout_s: float, cache_entries: int, max_pending: int,
        command: list[str] | None = None,
    ) -> None:
        """``command``: the worker to run (tests give a stand-in); default ``python -m`` :data:`WORKER_MODULE`."""
        self.rate_wpm = rate_wpm
        self.timeout_s = timeout_s
        self.cache_entries = cache_entries
        self.max_pending = max_pending
        self.command = command or [sys.executable, "-m", WORKER_MODULE, str(rate_wpm)]
        self._threading = real_module("threading")
        self._queue_module = real_module("queue")
        self._subprocess = real_module("subprocess")
        self._select = real_module("select")
        self._lock = self._threading.Lock()  # held for dictionary updates only, never while rendering
        self._queue = self._queue_module.Queue()
        self._cache: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self._pending: dict[str, _Job] = {}
        self._thread: Any = None
        self._process: Any = None  # the worker (subprocess.Popen), touched by the speech thread only
        self._status: tuple[bool, str] | None = None  # what the last worker start said
        self.renders = 0  # renders done by a worker (not from the cache): for tests and /health
        self.timeouts = 0

    # ---------------------------------------------------------------- what callers use

    def available(self) -> tuple[bool, str]:
        """Whether a voice can be had, and why not; never starts an engine in this process."""
        if self._status is not None:
            return self._status
        if importlib.util.find_spec("pyttsx3") is None:
            return False, "pyttsx3 is not installed"
        return True, "pyttsx3 (worker not started yet)"

    def render_wav(self, text: str, voice: str | None = None) -> bytes:
        """The text spoken (by espeak-ng's ``voice``, e.g. "de"; None: the default), as WAV bytes; raises
        :class:`SpeechUnavailable` when that cannot be done in time."""
        text = text if not voice else f"{voice}{VOICE_SEPARATOR}{text}"  # one request, one cache key
        with self._lock:
            cached = self._cache.get(text)
            if cached is not None:
                self._cache.move_to_end(text)
                return cached
            job = self._pending.get(text)
            if job is not None:
                job.waiters += 1
                ahead = 0
            else:
                if len(self._pending) >= self.max_pending:
                    raise SpeechUnavailable(f"The server's voice is busy ({len(self._pending)} phrases waiting).")
                ahead = len(self._pending)
                job = _Job(text, self._threading.Event())
                self._pending[text] = job
                self._queue.put(job)
                self._ensure_thread()
        # Each job ahead and this one take at most the deadline (a late one is killed), plus a worker start.
        wait_s = (ahead + 2) * self.timeout_s + WAIT_MARGIN_S
        if not wait_real_event(job.done, wait_s):
            raise SpeechUnavailable(f"No voice within {wait_s:.0f} s.")
        if job.wav is None:
            raise SpeechUnavailable(job.error or "The render failed.")
        return job.wav

    def close(self) -> None:
        """Stop the speech thread and the worker (tests; the process's end does it otherwise)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=self.timeout_s + WAIT_MARGIN_S)
            self._thread = None
        self._stop_worker()

    # ---------------------------------------------------------------- the speech thread

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = self._threading.Thread(target=self._serve, name="painscope-speech", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                wav = self._render(job.text)
            except SpeechUnavailable as problem:
                job.error = str(problem)
            except Exception as exc:  # a bug must not end the thread every later request needs
                log.exception("speech render failed")
                job.error = f"{type(exc).__name__}: {exc}"
                self._stop_worker()
            else:
                job.wav = wav
            with self._lock:
                self._pending.pop(job.text, None)
                if job.wav is not None:
                    self._cache[job.text] = job.wav
                    while len(self._cache) > self.cache_entries:
                        self._cache.popitem(last=False)
            job.done.set()

    def _render(self, text: str) -> bytes:
        deadline = time.monotonic() + self.timeout_s
        process = self._worker(deadline)
        data = text.encode("utf-8")
        try:
            process.stdin.write(REQUEST.pack(len(data)) + data)
            process.stdin.flush()
            status, payload = self._answer(process, deadline)
        except (OSError, ValueError) as exc:  # the worker died (broken pipe) or was killed
            self._stop_worker()
            raise SpeechUnavailable(f"The speech worker stopped: {exc}") from None
        if status == FAILED:
            raise SpeechUnavailable(payload.decode("utf-8", errors="replace"))
        if not is_wav(payload):
            raise SpeechUnavailable("The voice produced no sound for this text.")
        self.renders += 1
        return payload

    def _worker(self, deadline: float) -> Any:
        """The running worker, started (and its engine's first answer read) when there is none."""
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._stop_worker()
        self._process = self._subprocess.Popen(
            self.command, stdin=self._subprocess.PIPE, stdout=self._subprocess.PIPE,
            stderr=self._subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            status, payload = self._answer(self._process, deadline)
        except (OSError, ValueError) as exc:
            self._stop_worker()
            raise SpeechUnavailable(f"The speech worker did not start: {exc}") from None
        detail = payload.decode("utf-8", errors="replace")
        self._status = (status != FAILED, detail)
        if status == FAILED:
            self._stop_worker()
            raise SpeechUnavailable(f"The server has no voice: {detail}")
        return self._process

    def _answer(self, process: Any, deadline: float) -> tuple[int, bytes]:
        """Read one answer before the deadline; a worker that misses it is killed (SpeechUnavailable)."""
        header = self._read(process.stdout, HEADER.size, deadline)
        status, length = HEADER.unpack(header)
        return status, self._read(process.stdout, length, deadline)

    def _read(self, stream: BinaryIO, size: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        got = 0
        fd = stream.fileno()
        while got < size:
            left = deadline - time.monotonic()
            readable = self._select.select([fd], [], [], max(0.0, left))[0] if left > 0 else []
            if not readable:
                self.timeouts += 1
                self._stop_worker()
                raise SpeechUnavailable(f"The voice took longer than {self.timeout_s:g} s and was stopped.")
            chunk = os.read(fd, size - got)
            if not chunk:
                raise OSError("the speech worker closed its output")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def _stop_worker(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError, ValueError):
            process.kill()
        with contextlib.suppress(Exception):
            process.wait(timeout=self.timeout_s)
        for stream in (process.stdin, process.stdout):
            with contextlib.suppress(OSError, ValueError):
                stream.close()


def is_wav(data: bytes) -> bool:
    """RIFF/WAVE bytes with more than a header."""
    return len(data) > MIN_WAV_BYTES and data[:4] == b"RIFF" and data[8:12] == b"WAVE"

