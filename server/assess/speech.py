"""The one place a spoken phrase is built (its rendering to WAV: ``speech_engine.py``).

The English sentences below are the msgids of the gettext catalogs
(server/assess/catalogs.py): ``phrase(..., language="de")`` says the same in German,
numbers written the language's way; without a language it is English, unchanged.
"""
from __future__ import annotations

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
