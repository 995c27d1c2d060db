"""A stand-in for ``server/assess/speech_worker.py`` speaking its protocol without an engine (tests).

``python -m tests.fake_speech_worker MODE``: ``ok`` answers every text with a small WAV,
except the text ``hang``, on which it never answers (a stuck espeak); ``broken`` says at
start that no engine loaded; ``silent`` never says anything at all.
"""
from __future__ import annotations

import sys
import time

from server.assess.speech_worker import FAILED, OK, REQUEST, write_answer

# A valid RIFF/WAVE header plus a little silence: enough to pass the engine's "is this sound" check.
FAKE_WAV = b"RIFF" + (36 + 64).to_bytes(4, "little") + b"WAVEfmt " + bytes(24) + b"data" + (64).to_bytes(4, "little") + bytes(64)
HANG_TEXT = "hang"


def main(mode: str) -> int:
    out = sys.stdout.buffer
    if mode == "silent":
        time.sleep(3600)
    if mode == "broken":
        write_answer(out, FAILED, b"OSError: no espeak here")
        return 1
    write_answer(out, OK, b"fake")
    while True:
        header = sys.stdin.buffer.read(REQUEST.size)
        if len(header) < REQUEST.size:
            return 0
        text = sys.stdin.buffer.read(REQUEST.unpack(header)[0]).decode()
        if text == HANG_TEXT:
            time.sleep(3600)
        write_answer(out, OK, FAKE_WAV + text.encode())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "ok"))
