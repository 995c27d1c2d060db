"""Heart rate as evidence of pain: arousal against the same person's resting heart rate.

Pain raises sympathetic arousal, and arousal raises the heart rate; so does
walking, fever or a fright, which is why physiology only nudges the face's
reading (``server/pain/physiology/fusion.py``) and never judges pain alone. Two sources:

- an ECG recording (``server/vitals/ecg.py``): its arousal score
  (``server/pain/physiology/arousal.py``) compares heart rate and RMSSD with the
  recording's first seconds or a baseline upload;
- the camera heart rate (rPPG): the heart-rate part of the same score, against
  the resting rate of the same live session or video (its variability is too
  noisy to use).

Pure Python; nothing here knows of Flask.
"""
from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Any

import numpy as np

from server.pain.physiology.arousal import AROUSAL_METHOD, HR_RISE_FOR_FULL_SCORE, HR_RISE_IGNORED, Arousal, heart_rate_rise_score
from server.vitals.ecg import EcgAnalysis
from server.vitals.spectrum import SNR_FLOOR_DB, SNR_HIGH_DB
from server.vitals.vital_signs import TimedVitals, Vitals

# Window end times are rounded to 10 ms in a video's series; a sample at the same instant counts as after it.
SERIES_TIME_TOLERANCE_S = 0.01

RPPG_METHOD = (
    f"Camera heart rate (rPPG) against the resting heart rate of the same session: a rise of "
    f"{HR_RISE_IGNORED:.0%} or less counts 0, {HR_RISE_FOR_FULL_SCORE:.0%} or more counts 1, linear between "
    f"(the heart-rate part of the ECG arousal score). A heuristic, not validated against pain ratings."
)


@dataclass(frozen=True)
class Physiology:
    """Arousal from one heart-rate source; ``arousal`` is None when it cannot be judged (``reason``)."""

    source: str  # "ecg" | "rppg"
    arousal: float | None  # 0 = at the resting rate .. 1 = full scale
    heart_rate_bpm: float | None
    baseline_bpm: float | None
    confidence: float  # 0..1: how well the heart rate was measured
    method: str
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "source": self.source,
            "arousal": None if self.arousal is None else round(self.arousal, 3),
            "heart_rate_bpm": _round(self.heart_rate_bpm),
            "baseline_bpm": _round(self.baseline_bpm),
            "confidence": round(self.confidence, 3),
            "method": self.method,
            "reason": self.reason,
        }


def from_ecg(arousal: Arousal, analysis: EcgAnalysis) -> Physiology:
    """An ECG recording's arousal score (heart rate and RMSSD against its baseline), as confident as its signal."""
    base = arousal.baseline.heart_rate_bpm if arousal.baseline else None
    compared = arousal.compared.heart_rate_bpm if arousal.compared else None
    quality = analysis.quality_score
    return Physiology(
        source="ecg",
        arousal=arousal.score,
        heart_rate_bpm=compared,
        baseline_bpm=base,
        confidence=0.0 if quality is None else float(np.clip(quality, 0.0, 1.0)),
        method=AROUSAL_METHOD,
        reason=arousal.reason,
    )


def from_camera(vitals: Vitals | None, baseline_bpm: float | None, waiting: str | None = None) -> Physiology:
    """Arousal from a camera heart-rate reading against the resting rate.

    ``waiting`` says why there is no resting rate yet (e.g. still being learned).
    """
    bpm = vitals.heart_rate_bpm if vitals else None
    snr = vitals.snr_db if vitals else None
    confidence = 0.0 if snr is None else float(np.clip((snr - SNR_FLOOR_DB) / (SNR_HIGH_DB - SNR_FLOOR_DB), 0.0, 1.0))
    reason = None
    if vitals is None or bpm is None:
        reason = "no camera heart rate: " + ((vitals.reason if vitals else None) or "not measured")
    elif not vitals.heart_rate_usable:
        reason = "the camera heart rate is of low quality"
    elif baseline_bpm is None:
        reason = waiting or "no resting heart rate yet"
    arousal = None if reason else heart_rate_rise_score(baseline_bpm, bpm)
    return Physiology("rppg", arousal, bpm, baseline_bpm, confidence, RPPG_METHOD, reason)


class RestingHeartRate:
    """A session's resting heart rate: the median of its first ``seconds`` of good camera readings.

    "Calibrate neutral" replaces it with the reading of that moment (the 10 s
    window ending then), the clinician's word that the person is at rest.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._readings: list[tuple[float, float]] = []
        self._fixed: float | None = None

    def add(self, t_s: float, vitals: Vitals | None) -> None:
        """Count a reading taken at ``t_s`` while the baseline is still being learned."""
        if self._fixed is not None or vitals is None or not vitals.heart_rate_usable:
            return
        if self._readings and t_s - self._readings[0][0] >= self.seconds:
            self._fixed = median(bpm for _, bpm in self._readings)
            return
        self._readings.append((t_s, float(vitals.heart_rate_bpm)))

    def calibrate(self, vitals: Vitals | None) -> None:
        """Take the current reading as the resting rate (or start learning again when there is none)."""
        self._readings.clear()
        self._fixed = float(vitals.heart_rate_bpm) if vitals is not None and vitals.heart_rate_usable else None

    def settle(self) -> None:
        """A recording that ended before ``seconds``: its good readings so far are the resting rate."""
        if self._fixed is None and self._readings:
            self._fixed = median(bpm for _, bpm in self._readings)

    @property
    def bpm(self) -> float | None:
        """The resting rate once known."""
        return self._fixed

    def waiting(self) -> str:
        """Why there is no resting rate yet, in words."""
        if not self._readings:
            return "learning the resting heart rate: no good camera reading yet"
        learned = self._readings[-1][0] - self._readings[0][0]
        return f"learning the resting heart rate ({learned:.0f} of {self.seconds:g} s)"


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 1)


class VideoHeartRate:
    """A video's camera heart rate over time, against the video's own resting rate."""

    def __init__(self, vitals: Vitals | None, resting_seconds: float) -> None:
        self.series: tuple[TimedVitals, ...] = (vitals.series or ()) if vitals else ()
        self.resting = RestingHeartRate(resting_seconds)
        for reading in self.series:
            self.resting.add(reading.t_s, reading.vitals)
        self.resting.settle()

    def at(self, t_s: float) -> Physiology:
        """Arousal from the last heart-rate window that ended by ``t_s``."""
        ended = [reading for reading in self.series if reading.t_s <= t_s + SERIES_TIME_TOLERANCE_S]
        if not ended:
            vitals = Vitals(reason="no heart-rate window has ended yet at this time")
        else:
            vitals = ended[-1].vitals
        return from_camera(vitals, self.resting.bpm, "the video has no good heart-rate reading")
