"""Arousal from an ECG: heart rate and RMSSD after a baseline against the baseline. Pure Python; no Flask.

The baseline is the recording's first seconds or a separate baseline
recording. The heart-rate part is shared with the camera heart rate
(``server/pain/physiology/physiology.py``), so both sources judge a rise on one scale.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from server.problems import N_, Sentence
from server.vitals.ecg import MIN_BEATS, EcgAnalysis, SegmentStats, round_finite

# --- arousal (a stated heuristic, not fitted to pain data) ---
# Sympathetic arousal raises the heart rate and vagal withdrawal lowers RMSSD. Each
# change counts from a floor (what happens by chance) to a full-scale value:
# - heart rate: rises up to 5 % are ignored (mean rate over short stretches drifts by a few
#   percent with breathing and posture); 25 % (e.g. 72 -> 90 bpm) is full scale. Design choices.
# - RMSSD: falls up to 40 % are ignored. Measured here: in steady simulated ECG (ECGSYN,
#   55-130 bpm, 60 recordings of 60 s) RMSSD after a 10 s baseline fell by up to 40 % in
#   95 % of recordings (46 % at most) with nothing changing. A fall to a fifth (80 %) is
#   full scale, a design choice.
HR_RISE_IGNORED = 0.05
HR_RISE_FOR_FULL_SCORE = 0.25
RMSSD_FALL_IGNORED = 0.40
RMSSD_FALL_FOR_FULL_SCORE = 0.80
# Equal weights: nothing here favours one sign of arousal over the other.
HR_WEIGHT = 0.5
RMSSD_WEIGHT = 0.5

# The percentages are values ("5%"), so the catalogs' template carries no literal percent sign.
AROUSAL_METHOD = Sentence(
    N_("Mean heart rate and RMSSD of the recording (after the baseline, when the baseline is its first "
       "seconds) compared with the baseline. "
       "Heart-rate part: a rise of %(hr_ignored)s or less counts 0, %(hr_full)s or more "
       "counts 1, linear between. RMSSD part: a fall of %(rmssd_ignored)s or less counts 0, "
       "%(rmssd_full)s or more counts 1, linear between. "
       "Score = %(hr_weight)s x heart-rate part + %(rmssd_weight)s x RMSSD part, from 0 (no change) to 1. "
       "A heuristic, not validated against pain ratings."),
    hr_ignored=f"{HR_RISE_IGNORED:.0%}", hr_full=f"{HR_RISE_FOR_FULL_SCORE:.0%}",
    rmssd_ignored=f"{RMSSD_FALL_IGNORED:.0%}", rmssd_full=f"{RMSSD_FALL_FOR_FULL_SCORE:.0%}",
    hr_weight=f"{HR_WEIGHT:g}", rmssd_weight=f"{RMSSD_WEIGHT:g}",
)


@dataclass(frozen=True)
class Arousal:
    """Arousal relative to a baseline; ``score`` is None when it cannot be measured (``reason``)."""

    score: float | None
    baseline_source: str  # "first_seconds" | "upload"
    baseline: SegmentStats | None
    compared: SegmentStats | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the method in words."""
        base, comp = self.baseline, self.compared
        hr_change = rmssd_change = None
        if base and comp and base.heart_rate_bpm and comp.heart_rate_bpm:
            hr_change = 100.0 * (comp.heart_rate_bpm / base.heart_rate_bpm - 1.0)
        if base and comp and base.rmssd_ms and comp.rmssd_ms is not None:
            rmssd_change = 100.0 * (comp.rmssd_ms / base.rmssd_ms - 1.0)
        return {
            "score": round_finite(self.score, 2),
            "baseline": None if base is None else {"source": self.baseline_source, **base.to_dict()},
            "compared": None if comp is None else comp.to_dict(),
            "heart_rate_change_pct": round_finite(hr_change, 1),
            "rmssd_change_pct": round_finite(rmssd_change, 1),
            "method": AROUSAL_METHOD,
            "reason": self.reason,
        }


def arousal_score(baseline: SegmentStats, compared: SegmentStats) -> float | None:
    """The AROUSAL_METHOD score, 0..1, or None when either stretch lacks a heart rate."""
    if baseline.heart_rate_bpm is None or compared.heart_rate_bpm is None:
        return None
    hr_part = heart_rate_rise_score(baseline.heart_rate_bpm, compared.heart_rate_bpm)
    rmssd_part = 0.0
    if baseline.rmssd_ms and compared.rmssd_ms is not None:  # a zero baseline RMSSD cannot fall
        rmssd_fall = 1.0 - compared.rmssd_ms / baseline.rmssd_ms
        rmssd_part = _ramp(rmssd_fall, RMSSD_FALL_IGNORED, RMSSD_FALL_FOR_FULL_SCORE)
    return HR_WEIGHT * hr_part + RMSSD_WEIGHT * rmssd_part


def heart_rate_rise_score(baseline_bpm: float, bpm: float) -> float:
    """The heart-rate part of AROUSAL_METHOD, 0..1: 0 up to a HR_RISE_IGNORED rise, 1 from HR_RISE_FOR_FULL_SCORE.

    Shared with the camera heart rate (rPPG), whose variability is too noisy to use, so both
    sources judge a rise on the same scale.
    """
    return _ramp(bpm / baseline_bpm - 1.0, HR_RISE_IGNORED, HR_RISE_FOR_FULL_SCORE)


def _ramp(value: float, zero_at: float, one_at: float) -> float:
    """0 up to ``zero_at``, 1 from ``one_at``, linear between."""
    return float(np.clip((value - zero_at) / (one_at - zero_at), 0.0, 1.0))


def arousal_within(analysis: EcgAnalysis, baseline_seconds: float) -> Arousal:
    """Arousal of the rest of a recording against its first ``baseline_seconds``."""
    source = "first_seconds"
    if analysis.overall.heart_rate_bpm is None:
        return Arousal(None, source, None, None, reason=analysis.reason)
    if baseline_seconds >= analysis.duration_s:
        return Arousal(None, source, None, None, reason=Sentence(
            N_("the recording (%(seconds)s s) is not longer than the %(baseline)s s baseline; "
               "upload a separate baseline recording or a longer one"),
            seconds=f"{analysis.duration_s:.1f}", baseline=f"{baseline_seconds:g}"))
    baseline = analysis.segment(0.0, baseline_seconds)
    compared = analysis.segment(baseline_seconds, analysis.duration_s)
    return _arousal(baseline, compared, source)


def arousal_against(analysis: EcgAnalysis, baseline: EcgAnalysis) -> Arousal:
    """Arousal of a whole recording against a separate baseline recording."""
    if analysis.overall.heart_rate_bpm is None:
        return Arousal(None, "upload", baseline.overall, analysis.overall, reason=analysis.reason)
    if baseline.overall.heart_rate_bpm is None:
        return Arousal(None, "upload", baseline.overall, analysis.overall,
                       reason=Sentence(N_("baseline recording: %(reason)s"), reason=baseline.reason))
    return _arousal(baseline.overall, analysis.overall, "upload")


# Why a stretch cannot be compared: one whole sentence each (a language may word "the baseline" and "the
# compared stretch" differently around the rest).
TOO_FEW_INTERVALS = {
    "baseline": N_("the baseline (%(seconds)s s) holds %(intervals)s usable beat-to-beat intervals; "
                   "at least %(needed)s are needed"),
    "compared stretch": N_("the compared stretch (%(seconds)s s) holds %(intervals)s usable beat-to-beat "
                           "intervals; at least %(needed)s are needed"),
}


def _arousal(baseline: SegmentStats, compared: SegmentStats, source: str) -> Arousal:
    for name, stats in (("baseline", baseline), ("compared stretch", compared)):
        if stats.heart_rate_bpm is None:
            return Arousal(None, source, baseline, compared, reason=Sentence(
                TOO_FEW_INTERVALS[name], seconds=f"{stats.end_s - stats.start_s:.1f}", intervals=stats.intervals,
                needed=MIN_BEATS - 1))
    return Arousal(arousal_score(baseline, compared), source, baseline, compared)
