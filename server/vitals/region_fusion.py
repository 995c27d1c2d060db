"""Region fusion: several skin regions' traces over one window -> one spectrum, weighted by each region's SNR.

Each region (forehead, cheeks, or a patch of a pre-cropped frame) gives its
own pulse; a region whose peak stands out of its noise counts more, one at the
noise floor counts for nothing.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from server.vitals.filters import RESAMPLE_HZ, resample
from server.vitals.pulse_methods import pulse_signal
from server.vitals.spectrum import SNR_FLOOR_DB, power_spectrum, spectral_peak


@dataclass(frozen=True)
class RegionTrace:
    """Mean RGB of one skin region per frame, with capture times in seconds."""

    t_s: np.ndarray
    rgb: np.ndarray

    def between(self, start: float, end: float) -> "RegionTrace":
        """The samples with ``start <= t <= end``."""
        keep = (self.t_s >= start) & (self.t_s <= end)
        return RegionTrace(self.t_s[keep], self.rgb[keep])


MIN_TRACE_SAMPLES = 3  # fewer samples cannot be resampled or detrended


def traces_from_rows(rows: Mapping[str, Sequence[tuple[float, np.ndarray]]]) -> list[RegionTrace]:
    """Per-region ``(time, mean RGB)`` rows -> RegionTraces, in region-name order; short ones dropped."""
    return [
        RegionTrace(np.array([t for t, _ in rows[name]]), np.array([rgb for _, rgb in rows[name]]))
        for name in sorted(rows) if len(rows[name]) >= MIN_TRACE_SAMPLES
    ]


@dataclass(frozen=True)
class WindowSpectrum:
    """The fused spectrum of one window and the pulse waveform behind it."""

    freqs: np.ndarray
    power: np.ndarray
    waveform: np.ndarray
    rate_hz: float


def window_spectrum(regions: Sequence[RegionTrace], method: str = "pos") -> WindowSpectrum | None:
    """Regions' spectra over one window, fused with weights from each region's own SNR."""
    spectra, weights, waveforms = [], [], []
    for region in regions:
        if len(region.t_s) < 3:
            continue
        _, rgb = resample(region.t_s, region.rgb)
        if len(rgb) < 3:
            continue
        pulse = pulse_signal(rgb, RESAMPLE_HZ, method)
        freqs, power = power_spectrum(pulse, RESAMPLE_HZ)
        _, snr = spectral_peak(freqs, power)
        spectra.append(power)
        weights.append(_snr_weight(snr))
        waveforms.append(pulse / max(pulse.std(), 1e-12))
    if not spectra:
        return None
    size = min(len(s) for s in spectra)
    w = np.array(weights)
    w = w / w.sum() if w.sum() > 0 else np.full(len(w), 1 / len(w))
    power = sum(wi * s[:size] for wi, s in zip(w, spectra))
    length = min(len(x) for x in waveforms)
    waveform = sum(wi * x[-length:] for wi, x in zip(w, waveforms))
    freqs = np.fft.rfftfreq(2 * (size - 1), 1.0 / RESAMPLE_HZ)
    return WindowSpectrum(freqs, power, waveform, RESAMPLE_HZ)


def _snr_weight(snr_db: float) -> float:
    """Linear SNR above the noise floor: a region at the floor counts for nothing."""
    if not np.isfinite(snr_db):
        return 0.0
    return max(10 ** (snr_db / 10) - 10 ** (SNR_FLOOR_DB / 10), 0.0)
