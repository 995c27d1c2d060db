"""The one place a spoken phrase is built, and its rendering to WAV with pyttsx3 (espeak-ng).

The English sentences below are the msgids of the gettext catalogs
(server/assess/catalogs.py): ``phrase(..., language="de")`` says the same in German,
numbers written the language's way; without a language it is English, unchanged.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
import threading
from typing import Any

from babel.numbers import format_decimal

from server.assess.catalogs import N_, babel_locale, gettext
from server.pain.estimate import PainEstimate
from server.vitals.vital_signs import Vitals

_LEVEL_PHRASES = {
    "none": N_("No pain detected."),
    "mild": N_("Mild pain."),
    "moderate": N_("Moderate pain."),
    "severe": N_("Severe pain."),
}
NO_FACE_PHRASE = N_("No face found.")
# Said after the level when the heart rate moved a fused level above the face's own.
HEART_RATE_RAISED = "heart rate raised"
# Each level with HEART_RATE_RAISED, whole sentences so that each language can word them its own way.
_RAISED_PHRASES = {
    "none": N_("No pain detected; heart rate raised."),
    "mild": N_("Mild pain; heart rate raised."),
    "moderate": N_("Moderate pain; heart rate raised."),
    "severe": N_("Severe pain; heart rate raised."),
}
NOT_CALIBRATED_PHRASE = N_("Not calibrated.")
HEART_RATE_PHRASE = N_("Heart rate %(bpm)s.")


def phrase(
    pain: PainEstimate | None, face_found: bool, vitals: Vitals | None = None, level: str | None = None,
    language: str | None = None,
) -> str:
    """The sentence spoken for a result, e.g. ``"Moderate pain. Heart rate 78."``.

    ``level`` is the level to announce when it is not the frame's own: the
    sustained verdict of a clip or a stream (``server/pain/verdict.py``), so a
    one-frame spike is never said aloud. When fusion's heart-rate part changed
    the level: ``"Moderate pain; heart rate raised."``. ``language``: a code of
    ``catalogs.LANGUAGES`` (None: English).
    """
    if not face_found:
        return gettext(language, NO_FACE_PHRASE)
    said = level or (pain.level if pain else None)
    parts = [gettext(language, _LEVEL_PHRASES[said])] if pain and said else []
    if pain and pain.face_level is not None and said == pain.level and pain.level != pain.face_level:
        parts = [gettext(language, _RAISED_PHRASES[pain.level])]
    if pain and pain.calibrated is False and said != "none":
        parts.append(gettext(language, NOT_CALIBRATED_PHRASE))
    if vitals is not None and vitals.heart_rate_usable:
        bpm = format_decimal(round(vitals.heart_rate_bpm), locale=babel_locale(language))
        parts.append(gettext(language, HEART_RATE_PHRASE, bpm=bpm))
    return " ".join(parts)


class SpeechRenderer:
    """Renders text to WAV bytes with pyttsx3. One engine, used by one thread at a time."""

    def __init__(self, rate_wpm: int) -> None:
        self.rate_wpm = rate_wpm
        self._lock = threading.Lock()
        self._engine: Any = None
        self._default_voice: Any = None

    def available(self) -> tuple[bool, str]:
        """Whether a TTS voice can be loaded, and why not."""
        try:
            self._get_engine()
        except Exception as exc:  # pyttsx3 raises bare RuntimeError/OSError when no driver loads
            return False, f"{type(exc).__name__}: {exc}"
        return True, "pyttsx3"

    def render_wav(self, text: str, voice: str | None = None) -> bytes:
        """The text spoken to a WAV file, as bytes; ``voice``: an espeak-ng voice ("de"; None: the default)."""
        fd, path = tempfile.mkstemp(suffix=".wav")
        os.close(fd)
        try:
            with self._lock, contextlib.redirect_stdout(io.StringIO()):  # pyttsx3 prints "Audio saved to ..."
                engine = self._get_engine()
                engine.setProperty("voice", voice or self._default_voice)
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
            self._default_voice = engine.getProperty("voice")
            self._engine = engine
        return self._engine
