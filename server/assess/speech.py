"""The one place a spoken phrase is built (its rendering to WAV: ``speech_engine.py``)."""
from __future__ import annotations

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
