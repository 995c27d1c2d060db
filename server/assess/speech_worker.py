"""The speech worker: a child process holding the one pyttsx3 engine, rendering texts to WAV one at a time.

``python -m server.assess.speech_worker RATE_WPM``, started and fed by
``server/assess/speech_engine.py``. Why a process of its own: pyttsx3's espeak
driver is a C library that can hang in ``runAndWait`` and cannot be stopped
from inside; a child process can be killed and started afresh, so a stuck
render never holds the server.

Protocol (binary, on stdin and stdout): a request is a 4-byte big-endian length
and that many bytes of UTF-8 text; an answer is one status byte (``OK`` or
``FAILED``), a 4-byte big-endian length and that many bytes (the WAV, or the
reason it failed as UTF-8). The first answer, sent before any request, says
whether the engine loaded (its payload: the driver's name or the reason).
"""
from __future__ import annotations

import contextlib
import os
import struct
import sys
import tempfile
from typing import BinaryIO

OK, FAILED = 0, 1
HEADER = struct.Struct(">BI")  # status, payload length
REQUEST = struct.Struct(">I")  # text length
DRIVER = "pyttsx3"


def write_answer(out: BinaryIO, status: int, payload: bytes) -> None:
    """One answer: status, length, payload."""
    out.write(HEADER.pack(status, len(payload)) + payload)
    out.flush()


def render(engine: object, text: str) -> bytes:
    """The text spoken by ``engine`` as WAV bytes (through a private temporary file, removed at once)."""
    fd, path = tempfile.mkstemp(suffix=".wav")
    os.close(fd)
    try:
        engine.save_to_file(text, path)  # type: ignore[attr-defined]
        engine.runAndWait()  # type: ignore[attr-defined]
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)


VOICE_SEPARATOR = "\x00"  # speech_engine.VOICE_SEPARATOR


def split_voice(request: str) -> tuple[str | None, str]:
    """A request's espeak-ng voice (None: the default) and its text."""
    if VOICE_SEPARATOR not in request:
        return None, request
    voice, text = request.split(VOICE_SEPARATOR, 1)
    return voice or None, text


def main(argv: list[str]) -> int:
    """Load the engine, say whether it loaded, then answer requests until stdin closes."""
    rate_wpm = int(argv[1]) if len(argv) > 1 else 160
    out = os.fdopen(os.dup(1), "wb")  # answers only; the engine's own prints go to stderr below
    os.dup2(2, 1)  # pyttsx3 prints "Audio saved to ..." and espeak may print too: never into the protocol
    requests = sys.stdin.buffer
    try:
        import pyttsx3

        engine = pyttsx3.init()
        engine.setProperty("rate", rate_wpm)
        default_voice = engine.getProperty("voice")
    except Exception as exc:  # pyttsx3 raises bare RuntimeError/OSError when no driver loads
        write_answer(out, FAILED, f"{type(exc).__name__}: {exc}".encode())
        return 1
    write_answer(out, OK, DRIVER.encode())
    while True:
        header = requests.read(REQUEST.size)
        if len(header) < REQUEST.size:
            return 0  # the server closed the pipe: it stopped or let this worker go
        (length,) = REQUEST.unpack(header)
        voice, text = split_voice(requests.read(length).decode("utf-8", errors="replace"))
        try:
            engine.setProperty("voice", voice or default_voice)
            write_answer(out, OK, render(engine, text))
        except Exception as exc:
            write_answer(out, FAILED, f"{type(exc).__name__}: {exc}".encode())


if __name__ == "__main__":
    sys.exit(main(sys.argv))
