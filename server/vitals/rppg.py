"""Heart rate from skin colour (remote photoplethysmography): region traces in, a HeartRate out. NumPy only.

The blood volume pulse changes skin colour by a fraction of a percent, mostly
in green. Per frame, each skin region gives one mean RGB value with its capture
time. The steps, each in its own module:

1. Resample the trace to a uniform rate from the real timestamps (browser
   frames arrive unevenly): ``filters.py``.
2. Turn RGB into a pulse signal with POS, CHROM or GREEN, then detrend and
   band-limit to 42-240 bpm: ``pulse_methods.py``.
3. Take the spectral peak with sub-bin interpolation, its SNR and quality;
   track the peak over a recording's windows: ``spectrum.py``.
4. Fuse the regions by weighting their spectra by signal quality (SNR):
   ``region_fusion.py``.

This module estimates a heart rate from one window, a sliding series or a
whole recording; a stream's rolling estimate is ``rppg_tracker.py``
``RppgTracker``. ``python -m server.vitals.rppg CLIP ...`` runs it on video
files (``rppg_cli.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from server.vitals.filters import RESAMPLE_HZ
from server.vitals.region_fusion import RegionTrace, WindowSpectrum, window_spectrum
from server.vitals.spectrum import SNR_FLOOR_DB, quality_of, spectral_peak, track
from server.vitals.vital_signs import Vitals, heart_rate_vitals

VIDEO_MAX_FPS = 30.0  # video frames read for rPPG per second: a 60 fps video is thinned to this
DEFAULT_WINDOW_S = 10.0  # spectral window: ~0.1 Hz (6 bpm) native resolution before interpolation
DEFAULT_STEP_S = 1.0  # sliding step of the per-window series
MIN_SIGNAL_S = 5.0  # less than this is too few beats (~4 at 50 bpm) for a spectral estimate
# Motion: a face moving by more than this fraction of its size per second
# smears the skin regions across background and features; no estimate then.
MAX_MOTION_PER_S = 0.5
# Tracking over a recording: the windows' spectra are taken this often (spectrum.track).
TRACK_STEP_S = 2.0


@dataclass(frozen=True)
class HeartRate:
    """A heart-rate estimate: ``bpm`` is None when it cannot be measured (``reason`` says why)."""

    bpm: float | None
    snr_db: float | None
    quality: str | None  # high | medium | low; None when there is no estimate
    window_s: float
    reason: str | None = None

    def as_vitals(self, waveform: np.ndarray | None = None, waveform_hz: float = RESAMPLE_HZ) -> Vitals:
        """These vital signs (docs/ARCHITECTURE.md), plus the recent pulse waveform when given."""
        return heart_rate_vitals(self.bpm, self.quality, self.snr_db, self.window_s, self.reason, waveform, waveform_hz)


def _unmeasurable(span_s: float, motion_per_s: float) -> HeartRate | None:
    """The refusal when there is too little signal or too much motion, else None."""
    if span_s < MIN_SIGNAL_S:
        return HeartRate(None, None, None, span_s, f"needs {MIN_SIGNAL_S:.0f} s of signal")
    if motion_per_s > MAX_MOTION_PER_S:
        return HeartRate(None, None, None, span_s, "too much motion")
    return None


def estimate_window(
    regions: Sequence[RegionTrace], method: str = "pos", motion_per_s: float = 0.0
) -> tuple[HeartRate, WindowSpectrum | None]:
    """Heart rate from one window of region traces, and the fused spectrum it came from (if any)."""
    span = max((r.t_s[-1] - r.t_s[0] for r in regions if len(r.t_s) > 1), default=0.0)
    refusal = _unmeasurable(span, motion_per_s)
    if refusal is not None:
        return refusal, None
    fused = window_spectrum(regions, method)
    if fused is None:
        return HeartRate(None, None, None, span, "no skin signal"), None
    f0, snr = spectral_peak(fused.freqs, fused.power)
    if snr < SNR_FLOOR_DB:
        return HeartRate(None, round(snr, 2) if np.isfinite(snr) else None, None, span, "signal too weak"), fused
    return HeartRate(f0 * 60.0, snr, quality_of(snr), span), fused


def estimate(regions: Sequence[RegionTrace], method: str = "pos", motion_per_s: float = 0.0) -> HeartRate:
    """Heart rate from one window of region traces (all covering the same time span)."""
    return estimate_window(regions, method, motion_per_s)[0]


def estimate_series(
    regions: Sequence[RegionTrace],
    method: str = "pos",
    window_s: float = DEFAULT_WINDOW_S,
    step_s: float = DEFAULT_STEP_S,
) -> list[tuple[float, HeartRate]]:
    """Sliding-window estimates ``(window end time, HeartRate)`` over whole traces."""
    start = min(r.t_s[0] for r in regions)
    end = max(r.t_s[-1] for r in regions)
    out = []
    t = start + min(window_s, end - start)
    while t <= end + 1e-9:
        out.append((t, estimate([r.between(t - window_s, t) for r in regions], method)))
        t += step_s
    return out


def estimate_recording(
    regions: Sequence[RegionTrace],
    method: str = "pos",
    window_s: float = DEFAULT_WINDOW_S,
    floor_db: float = SNR_FLOOR_DB,
    motion_per_s: float = 0.0,
) -> HeartRate:
    """One heart rate for a whole recording: the median of the tracked heart-rate path.

    Windows every TRACK_STEP_S seconds; the path through their salience maps
    maximises salience with smooth (physiological) changes between windows.
    ``floor_db`` = -inf returns the best guess even from noise (benchmarks only);
    ``motion_per_s`` is the recording's typical (median) face motion.
    """
    start = min(r.t_s[0] for r in regions)
    end = max(r.t_s[-1] for r in regions)
    refusal = _unmeasurable(end - start, motion_per_s)
    if refusal is not None:
        return refusal
    window_s = min(window_s, end - start)
    spectra = []
    t = start + window_s
    while t <= end + 1e-9:
        fused = window_spectrum([r.between(t - window_s, t) for r in regions], method)
        if fused is not None:
            spectra.append(fused)
        t += TRACK_STEP_S
    if not spectra:
        return HeartRate(None, None, None, end - start, "no skin signal")
    size = min(len(s.power) for s in spectra)
    freqs = spectra[0].freqs[:size]
    path = track(freqs, [s.power[:size] for s in spectra], TRACK_STEP_S)
    bpm = float(np.median(path))
    _, snr = spectral_peak(freqs, np.mean([s.power[:size] for s in spectra], axis=0), near_hz=bpm / 60)
    if snr < floor_db:
        return HeartRate(None, snr if np.isfinite(snr) else None, None, end - start, "signal too weak")
    return HeartRate(bpm, snr, quality_of(snr), end - start)


# The command line lives in server/vitals/rppg_cli.py: it reads video files
# through server.vitals.skin, which itself builds on this module.

if __name__ == "__main__":
    import sys

    from server.vitals.rppg_cli import main

    sys.exit(main())
