"""Heart rate, heart-rate variability and signal quality of a parsed ECG. NumPy + neurokit2; no Flask.

The steps (the file is read by ``server/vitals/ecg_files.py``; the arousal
against a baseline is ``server/pain/physiology/arousal.py``; the endpoint's report is
``server/assess/ecg_report.py``):

1. Clean the signal and find the R peaks with neurokit2 (``ecg_clean``, then
   ``ecg_peaks`` with artifact correction, Lipponen & Tarvainen 2019).
2. R-R intervals -> heart-rate series, mean heart rate, RMSSD and SDNN
   (Task Force of the ESC and NASPE 1996).
3. Signal quality: the mean correlation of each beat with the average beat
   (``ecg_quality`` "templatematch", after Orphanidou et al. 2015).
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from server.problems import N_, InputProblem, Sentence
from server.vitals.ecg_files import EcgSignal

# Five beats give four R-R intervals and three successive differences: the fewest from
# which a mean rate and an RMSSD are more than one interval's noise (a 5 s window at 60 bpm).
MIN_BEATS = 5
# Physiological R-R range: 30 bpm (complete heart block) to 240 bpm (the rPPG module's
# upper bound, maximal exertion). Intervals outside it are detection errors and are left out.
MIN_BPM, MAX_BPM = 30.0, 240.0
# Orphanidou et al. (2015) call an ECG unusable when its longest R-R interval is more than
# 2.2 times its shortest. Noise read as beats does that; so can a very irregular rhythm
# (atrial fibrillation). Over long recordings the 2nd and 98th percentiles stand in for the
# extremes, so one ectopic beat in an hour does not void the whole file.
MAX_RR_SPREAD = 2.2
RR_SPREAD_PERCENTILE = 2.0

# --- signal quality (mean beat-to-template correlation, 0..1) ---
# Orphanidou et al. (2015): an average correlation below 0.66 is unacceptable -> "low".
QUALITY_MEDIUM_MIN = 0.66
# Measured here with neurokit2's ECGSYN simulator (5 recordings each, 55-130 bpm, 10 s and
# 60 s): noise 0.05-0.2 read 0.87-0.99, noise 0.5 read 0.64-0.80; white noise, random walk,
# mains hum and EMG-like bursts (20 seeds each) read 0.18-0.72.
QUALITY_HIGH_MIN = 0.85
# QRS energy lies below ~40 Hz, so the template correlation is computed at no more than
# 250 Hz: the shape survives and the slowest step (about 4 s per hour of 500 Hz ECG,
# measured here) gets two to forty times cheaper.
QUALITY_MAX_HZ = 250.0

QUALITY_METHOD = Sentence(N_(
    "mean correlation of each beat with the recording's average beat "
    "(neurokit2 ecg_quality 'templatematch', after Orphanidou et al. 2015)"
))


@dataclass(frozen=True)
class SegmentStats:
    """Heart rate and variability over one stretch of a recording (None when too few beats)."""

    start_s: float
    end_s: float
    intervals: int  # R-R intervals used
    heart_rate_bpm: float | None
    rmssd_ms: float | None
    sdnn_ms: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, rounded."""
        return {
            "start_s": round(self.start_s, 2),
            "end_s": round(self.end_s, 2),
            "intervals": self.intervals,
            "heart_rate_bpm": round_finite(self.heart_rate_bpm, 1),
            "rmssd_ms": round_finite(self.rmssd_ms, 1),
            "sdnn_ms": round_finite(self.sdnn_ms, 1),
        }


@dataclass(frozen=True)
class EcgAnalysis:
    """R peaks of one recording and what follows from them."""

    beat_times_s: np.ndarray  # R-peak times from the first sample
    rr_s: np.ndarray  # R-R intervals; rr_s[i] ends at beat_times_s[i + 1]
    rr_valid: np.ndarray  # bool per interval: inside MIN_BPM..MAX_BPM
    duration_s: float
    quality_score: float | None  # 0..1
    rhythm_ok: bool  # R-R spread within MAX_RR_SPREAD
    overall: SegmentStats

    @property
    def quality_level(self) -> str:
        """high | medium | low from the named cut points; always low when the rhythm check fails."""
        score = self.quality_score
        if score is None or not self.rhythm_ok or score < QUALITY_MEDIUM_MIN:
            return "low"
        return "high" if score >= QUALITY_HIGH_MIN else "medium"

    @property
    def reason(self) -> str | None:
        """Why no heart rate is given, or None."""
        if self.rhythm_ok:
            return None
        return Sentence(N_("no consistent heartbeat: beat-to-beat intervals vary more than %(spread)s-fold, which "
                           "is what noise looks like (a very irregular rhythm such as atrial fibrillation does it too)"),
                        spread=f"{MAX_RR_SPREAD:g}")

    def segment(self, start_s: float, end_s: float) -> SegmentStats:
        """Statistics of the intervals that end within (start_s, end_s]."""
        ends = self.beat_times_s[1:]
        inside = (ends > start_s) & (ends <= end_s)
        return _stats(self.rr_s, self.rr_valid & inside, start_s, end_s)


def analyze_signal(signal: EcgSignal, label: str = "The ECG file") -> EcgAnalysis:
    """Clean, find R peaks, and measure rate, variability and quality of a whole recording."""
    rate = signal.sampling_rate_hz
    values = signal.values
    if float(np.ptp(values)) == 0.0:
        raise InputProblem("flat_ecg", "%(label)s is a flat line: every value is the same. Check the electrodes.",
                           label=label)
    nk = _neurokit()
    try:
        with warnings.catch_warnings():
            # neurokit2 warns through pandas (chained assignment, future behaviour); nothing
            # the clinician can act on. catch_warnings is process-wide, so a warning raised
            # by another thread meanwhile may be hidden too: acceptable for warnings.
            warnings.simplefilter("ignore")
            cleaned = np.asarray(nk.ecg_clean(values, sampling_rate=rate), dtype=np.float64)
            _, info = nk.ecg_peaks(cleaned, sampling_rate=rate, correct_artifacts=True)
            peaks = np.asarray(info["ECG_R_Peaks"], dtype=np.int64)
    except (ValueError, IndexError, TypeError, ZeroDivisionError):
        peaks = np.zeros(0, np.int64)  # neurokit2 fails on signals with no beat-like shape
    if len(peaks) < 2:
        raise InputProblem("flat_ecg", "%(label)s shows no heartbeats (no R peaks found). Check the electrodes.",
                           label=label)
    if len(peaks) < MIN_BEATS:
        raise InputProblem(
            "too_few_beats",
            "%(label)s shows %(beats)s heartbeats in %(seconds)s s; at least %(least)s are needed.",
            label=label, beats=len(peaks), seconds=f"{signal.duration_s:.1f}", least=MIN_BEATS,
        )
    beat_times = peaks / rate
    rr = np.diff(beat_times)
    valid = (rr >= 60.0 / MAX_BPM) & (rr <= 60.0 / MIN_BPM)
    if np.count_nonzero(valid) < MIN_BEATS - 1:
        raise InputProblem(
            "too_few_beats",
            "%(label)s has too few plausible beat-to-beat intervals (%(intervals)s); "
            "at least %(least)s between %(low)s and %(high)s bpm are needed.",
            label=label, intervals=int(np.count_nonzero(valid)), least=MIN_BEATS - 1, low=f"{MIN_BPM:g}",
            high=f"{MAX_BPM:g}",
        )
    low, high = np.percentile(rr[valid], [RR_SPREAD_PERCENTILE, 100.0 - RR_SPREAD_PERCENTILE])
    rhythm_ok = bool(high / low <= MAX_RR_SPREAD)
    quality = _quality(nk, cleaned, peaks, rate)
    overall = _stats(rr, valid, 0.0, signal.duration_s)
    if not rhythm_ok:
        overall = SegmentStats(0.0, signal.duration_s, overall.intervals, None, None, None)
    return EcgAnalysis(beat_times, rr, valid, signal.duration_s, quality, rhythm_ok, overall)


@functools.cache
def _neurokit() -> Any:
    """neurokit2, imported on first use: it pulls in pandas, scikit-learn and matplotlib
    (~3 s), which the server should not pay at start-up for a rarely used endpoint."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # it imports scipy.misc, deprecated in SciPy
        import neurokit2
    return neurokit2


def _quality(nk: Any, cleaned: np.ndarray, peaks: np.ndarray, rate: float) -> float | None:
    """Mean beat-to-template correlation, clipped to 0..1 (None if neurokit2 cannot segment beats)."""
    factor = max(1, math.ceil(rate / QUALITY_MAX_HZ))
    if factor > 1:
        from scipy.signal import resample_poly  # anti-aliased decimation

        cleaned = resample_poly(cleaned, 1, factor)
        peaks = np.minimum(np.round(peaks / factor).astype(np.int64), len(cleaned) - 1)
        rate = rate / factor
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # see analyze_signal
            per_sample = np.asarray(
                nk.ecg_quality(cleaned, rpeaks=peaks, sampling_rate=rate, method="templatematch"), dtype=np.float64
            )
    except (ValueError, IndexError, TypeError, ZeroDivisionError):
        return None
    if not np.any(np.isfinite(per_sample)):
        return None
    return float(np.clip(np.nanmean(per_sample), 0.0, 1.0))


def _stats(rr: np.ndarray, use: np.ndarray, start_s: float, end_s: float) -> SegmentStats:
    """Mean HR, RMSSD and SDNN of the intervals flagged in ``use``.

    RMSSD only takes differences between neighbouring intervals that are both
    used, so a rejected interval never makes a false jump.
    """
    count = int(np.count_nonzero(use))
    if count < MIN_BEATS - 1:
        return SegmentStats(start_s, end_s, count, None, None, None)
    chosen = rr[use]
    pairs = use[:-1] & use[1:]
    successive = np.diff(rr)[pairs]
    rmssd = float(np.sqrt(np.mean(successive**2))) * 1000.0 if successive.size else None
    return SegmentStats(
        start_s, end_s, count,
        heart_rate_bpm=60.0 / float(np.mean(chosen)),
        rmssd_ms=rmssd,
        sdnn_ms=float(np.std(chosen, ddof=1)) * 1000.0,
    )


def round_finite(value: float | None, digits: int) -> float | None:
    """``value`` rounded for a report; None when it is absent or not finite."""
    return None if value is None or not math.isfinite(value) else round(float(value), digits)
