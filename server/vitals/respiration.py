"""Respiration rate from the camera: the rhythm of the small vertical motion breathing gives the upper body.

Breathing lifts the shoulders and chest a few millimetres on every breath and,
in a sitting or propped-up patient, moves the head with them. Given a vertical
position over time (the shoulder line from MediaPipe Pose, server/vision/body.py,
or the face's landmarks), normalised by a body size so that near and far read
alike, the rate is the strongest rhythm between RATE_MIN_BPM and RATE_MAX_BPM:

1. resample evenly at RESAMPLE_HZ, remove the linear drift;
2. band-pass the breathing band (a 2nd-order Butterworth, forwards and backwards);
3. the rate is the peak of the zero-padded spectrum in the band (parabolic interpolation);
4. the quality is the signal's autocorrelation one breath later (1: every breath
   alike, 0: no repeating rhythm). Below MIN_QUALITY, or with too little motion,
   too short a window or too few samples, the rate is None with the reason.

Pure numpy / scipy; no Flask. Measured on synthetic breathing only (tests/test_respiration.py,
docs/models.md "Respiration rate"); not validated on patients.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.signal import butter, sosfiltfilt

from server.vitals.filters import resample

# The breathing band, breaths per minute: 6 (slow, deep breathing) to 40 (adult tachypnoea
# well beyond the NEWS2 top band of >= 25; Royal College of Physicians 2017).
RATE_MIN_BPM = 6.0
RATE_MAX_BPM = 40.0
# Two breaths at 12/min: the shortest window that shows a rhythm at a normal rate.
MIN_WINDOW_S = 10.0
# Samples per second the input must have (median): twice the top of the band (Nyquist) with a margin.
MIN_SAMPLE_HZ = 1.9
RESAMPLE_HZ = 10.0  # even grid for the filter; well above the band
FILTER_ORDER = 2
PAD_TO_S = 120.0  # zero-padding of the spectrum: 0.5 bpm bins before interpolation
# A rhythm whose breaths correlate less than this with the next one is not reported (own judgement:
# clean synthetic breathing reads > 0.9, position jitter of a still person < 0.3).
MIN_QUALITY = 0.5
# Less motion than this (standard deviation, in body sizes) is no measurable breathing: a
# thousandth of the size is ~0.2 px on a 200 px face, below landmark resolution (own judgement).
MIN_MOTION = 0.001
# Live: the rate is re-estimated over the last LIVE_WINDOW_S (three breaths at 12/min and more).
LIVE_WINDOW_S = 20.0


@dataclass(frozen=True)
class Respiration:
    """A respiration rate (None when it cannot be measured, with the reason) and how much to trust it."""

    rate_bpm: float | None
    quality: float | None  # 0-1: the autocorrelation one breath later
    window_s: float
    source: str  # what moved: "shoulders" (pose) or "head" (face landmarks)
    reason: str | None = None

    def as_vitals(self) -> dict[str, Any]:
        """The optional respiration fields of a ``vitals`` dict."""
        return {
            "respiration_rate_bpm": None if self.rate_bpm is None else round(self.rate_bpm, 1),
            "respiration_quality": None if self.quality is None else round(self.quality, 2),
            "respiration_source": self.source,
            "respiration_reason": self.reason,
        }


def respiration_rate(times_s: Sequence[float], heights: Sequence[float], source: str) -> Respiration:
    """The breathing rate of a vertical position series (``heights`` in body sizes, at ``times_s``)."""
    t = np.asarray(times_s, dtype=np.float64)
    y = np.asarray(heights, dtype=np.float64)
    window = float(t[-1] - t[0]) if len(t) > 1 else 0.0
    if window < MIN_WINDOW_S:
        return Respiration(None, None, round(window, 2), source, f"needs {MIN_WINDOW_S:g} s")
    if np.median(np.diff(t)) > 1.0 / MIN_SAMPLE_HZ:
        return Respiration(None, None, round(window, 2), source, "too few samples")
    grid, signal = resample(t, y, RESAMPLE_HZ)
    signal = signal - np.polyval(np.polyfit(grid, signal, 1), grid)
    if float(np.std(signal)) < MIN_MOTION:
        return Respiration(None, None, round(window, 2), source, "no breathing motion")
    band = np.array([RATE_MIN_BPM, RATE_MAX_BPM]) / 60.0
    sos = butter(FILTER_ORDER, band, btype="bandpass", fs=RESAMPLE_HZ, output="sos")
    breathing = sosfiltfilt(sos, signal)
    rate = _peak_bpm(breathing)
    quality = _repeat_correlation(breathing, int(round(RESAMPLE_HZ * 60.0 / rate)))
    if quality < MIN_QUALITY:
        return Respiration(None, round(quality, 3), round(window, 2), source, "no regular breathing rhythm")
    return Respiration(rate, round(quality, 3), round(window, 2), source)


def _peak_bpm(signal: np.ndarray) -> float:
    """The in-band spectral peak, breaths per minute, refined by a parabola through its neighbours."""
    n = max(len(signal), int(PAD_TO_S * RESAMPLE_HZ))
    power = np.abs(np.fft.rfft(signal * np.hanning(len(signal)), n)) ** 2
    bpm = np.fft.rfftfreq(n, 1.0 / RESAMPLE_HZ) * 60.0
    in_band = np.flatnonzero((bpm >= RATE_MIN_BPM) & (bpm <= RATE_MAX_BPM))
    k = int(in_band[np.argmax(power[in_band])])
    if 0 < k < len(power) - 1:
        a, b, c = power[k - 1], power[k], power[k + 1]
        denominator = a - 2 * b + c
        shift = 0.5 * (a - c) / denominator if denominator != 0 else 0.0
        return float(bpm[k] + shift * (bpm[1] - bpm[0]))
    return float(bpm[k])


def _repeat_correlation(signal: np.ndarray, lag: int) -> float:
    """Pearson correlation of the signal with itself ``lag`` samples later (0 when too short)."""
    if lag <= 0 or lag >= len(signal) - 1:
        return 0.0
    a, b = signal[:-lag], signal[lag:]
    denominator = float(np.sqrt(np.dot(a, a) * np.dot(b, b)))
    return max(0.0, float(np.dot(a, b)) / denominator) if denominator > 0 else 0.0


class RespirationTracker:
    """A live stream's respiration: positions over the last ``window_s``, the rate re-estimated on demand."""

    def __init__(self, source: str, window_s: float = LIVE_WINDOW_S) -> None:
        self.source = source
        self.window_s = window_s
        self._samples: deque[tuple[float, float]] = deque()

    def add(self, t_s: float, height: float) -> None:
        """One position (body sizes) at ``t_s``; older samples than the window are dropped."""
        self._samples.append((t_s, height))
        while self._samples and self._samples[0][0] < t_s - self.window_s:
            self._samples.popleft()

    def current(self) -> Respiration:
        """The rate over the samples in the window."""
        if len(self._samples) < 2:
            return Respiration(None, None, 0.0, self.source, f"needs {MIN_WINDOW_S:g} s")
        times, heights = zip(*self._samples)
        return respiration_rate(times, heights, self.source)


def head_height(landmarks: np.ndarray, box: Sequence[float]) -> float:
    """The face's vertical position in face heights: the landmarks' mean y over the box height."""
    return float(np.mean(landmarks[:, 1]) / max(float(box[3]), 1.0))
