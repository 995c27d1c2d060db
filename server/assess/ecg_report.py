"""What the ECG endpoint answers: parse, analyse, judge the arousal, and the report. No Flask.

``POST /api/v1/analyze/ecg`` and an ECG sent with a photo or video
(``server/web/requests/ecg_fields.py``) both go through :func:`analyze_ecg`.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.pain.physiology.arousal import Arousal, arousal_against, arousal_within
from server.problems import InputProblem
from server.vitals.ecg import QUALITY_METHOD, EcgAnalysis, analyze_signal, round_finite
from server.vitals.ecg_files import EcgSignal, parse_ecg
from server.vitals.vital_signs import Vitals, heart_rate_vitals

DEFAULT_BASELINE_SECONDS = 10.0  # Settings.ecg_baseline_seconds overrides it


@dataclass(frozen=True)
class EcgReport:
    """Everything the ECG endpoint answers: the recording, its vitals and the arousal."""

    signal: EcgSignal
    analysis: EcgAnalysis
    arousal: Arousal
    timing_ms: dict[str, float]

    @property
    def vitals(self) -> Vitals:
        """The recording's heart rate as the vital signs a patient's record keeps."""
        a = self.analysis
        return heart_rate_vitals(a.overall.heart_rate_bpm, a.quality_level, None, a.duration_s, a.reason)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; unmeasurable values are null with a reason, never invented."""
        a = self.analysis
        overall = a.overall
        series = []
        if overall.heart_rate_bpm is not None:
            ends = a.beat_times_s[1:]
            series = [{"t_s": round(float(t), 3), "bpm": round(60.0 / float(r), 1)}
                      for t, r, ok in zip(ends, a.rr_s, a.rr_valid) if ok]
        return {
            "ecg": {
                "format": self.signal.format,
                "sampling_rate_hz": round(self.signal.sampling_rate_hz, 3),
                "rate_source": self.signal.rate_source,
                "duration_s": round(self.signal.duration_s, 2),
                "samples": len(self.signal.values),
                "beats": len(a.beat_times_s),
                "rejected_intervals": int(np.count_nonzero(~a.rr_valid)),
                "notes": list(self.signal.notes),
            },
            "vitals": {
                "source": "ecg",
                "heart_rate_bpm": round_finite(overall.heart_rate_bpm, 1),
                "rmssd_ms": round_finite(overall.rmssd_ms, 1),
                "sdnn_ms": round_finite(overall.sdnn_ms, 1),
                "quality": a.quality_level,
                "quality_score": round_finite(a.quality_score, 2),
                "quality_method": QUALITY_METHOD,
                "window_s": round(a.duration_s, 1),
                "reason": a.reason,
                "series": series,
            },
            "arousal": self.arousal.to_dict(),
            "timing_ms": {name: round(ms, 1) for name, ms in self.timing_ms.items()},
        }


def analyze_ecg(
    data: bytes,
    sampling_rate: float | None = None,
    *,
    baseline: bytes | None = None,
    baseline_sampling_rate: float | None = None,
    baseline_seconds: float = DEFAULT_BASELINE_SECONDS,
) -> EcgReport:
    """Parse and analyse an ECG upload, with arousal against ``baseline`` or the first ``baseline_seconds``."""
    if not (math.isfinite(baseline_seconds) and baseline_seconds > 0):
        raise InputProblem("bad_parameter", "'baseline_seconds' must be a number of seconds above 0.")
    started = time.perf_counter()
    signal = parse_ecg(data, sampling_rate)
    base_signal = None
    if baseline is not None:
        base_signal = parse_ecg(baseline, baseline_sampling_rate or sampling_rate, label="The baseline file")
    parsed = time.perf_counter()
    analysis = analyze_signal(signal)
    if base_signal is not None:
        arousal = arousal_against(analysis, analyze_signal(base_signal, label="The baseline file"))
    else:
        arousal = arousal_within(analysis, baseline_seconds)
    done = time.perf_counter()
    timing = {"parse": 1000 * (parsed - started), "analysis": 1000 * (done - parsed), "total": 1000 * (done - started)}
    return EcgReport(signal, analysis, arousal, timing)
