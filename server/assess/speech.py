"""The one place a spoken phrase is built, and its rendering to WAV with pyttsx3 (espeak-ng)."""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
from typing import Any

from server.pain.estimate import PainEstimate
from server.vitals.vital_signs import Vitals

_LEVEL_PHRASES = {
    "none": "No pain detected.",
    "mild": "Mild pain.",
    "moderate": "Moderate pain.",
    "severe": "Severe pain.",
}
NO_FACE_PHRASE = "No face found."
# Said after the level when the heart rate moved a fused level above the face's own.
HEART_RATE_RAISED = "heart rate raised"


def phrase(
    pain: PainEstimate | None, face_found: bool, vitals: Vitals | None = None, level: str | None = None
) -> str:
    """The sentence spoken for a result, e.g. ``"Moderate pain. Heart rate 78."``.

    ``level`` is the level to announce when it is not the frame's own: the
    sustained verdict of a clip or a stream (``server/pain/verdict.py``), so a
    one-frame spike is never said aloud. When fusion's heart-rate part changed
    the level: ``"Moderate pain; heart rate raised."``.
    """
    if not face_found:
        return NO_FACE_PHRASE
    said = level or (pain.level if pain else None)
    parts = [_LEVEL_PHRASES[said]] if pain and said else []
    if pain and pain.face_level is not None and said == pain.level and pain.level != pain.face_level:
        parts = [_LEVEL_PHRASES[pain.level].rstrip(".") + f"; {HEART_RATE_RAISED}."]
    if pain and pain.calibrated is False and said != "none":
        parts.append("Not calibrated.")
    if vitals is not None and vitals.heart_rate_usable:
        parts.append(f"Heart rate {round(vitals.heart_rate_bpm)}.")
    return " ".join(parts)


class SpeechRenderer:
    """Renders text to WAV bytes with pyttsx3. One engine, used by one thread at a time."""

    def __init__(self, rate_wpm: int) -> None:
        self.rate_wpm = rate_wpm
        self._lock = threading.Lock()
        self._engine: Any = None

    def available(self) -> tuple[bool, str]:
        """Whether a TTS voice can be loaded, and why not."""
        try:
            self._get_engine()
        except Exception as exc:  # pyttsx3 raises bare RuntimeError/OSError when no driver loads
            return False, f"{type(exc).__name__}: {exc}"
        return True, "pyttsx3"

    def render_wav(self, text: str) -> bytes:
        """The text spoken to a WAV file, as bytes."""
        fd, path = tempfile.mkstemp(suffix=".wav")
        os.close(fd)
        try:
            with self._lock, contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to ..."
                engine = self._get_engine()
                engine.save_to_file(text, path)
                engine.runAndWait()
            with open(path, "rb") as handle:
                return handle.read()
        finally:
            os.unlink(path)

    def _get_engine(self) -> Any:
        if self._engine is None:
            import pyttsx3  # loads espeak-ng through ctypes; only when speech is asked for

            engine = pyttsx3.init()
            engine.setProperty("rate", self.rate_wpm)
            self._engine = engine
        return self._engine
