"""The spectrum of a pulse signal: power, the heart-rate peak, its SNR and quality, and tracking over windows.

NumPy only; the frequencies are in Hz, the heart rates in bpm.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from server.vitals.filters import MAX_BPM, MIN_BPM

ZERO_PAD_FACTOR = 8  # spectral interpolation by zero padding before the parabolic peak fit
# Peak picking: camera noise and residual motion have a 1/f-like spectrum that
# favours the slow end of the band, so a power law fitted over the band is divided
# out first ("whitening"). The pulse wave is not a sinusoid: its first harmonic
# carries roughly a quarter to a half of the fundamental's power, so each
# candidate frequency also collects this share of the power at twice itself.
HARMONIC_WEIGHT = 0.5
# Tracking over a recording: resting heart rate rarely changes faster than about
# 1 bpm per second, so the most likely path through the windows' spectra is
# taken with Gaussian steps of this size.
TRACK_BPM_PER_S = 1.0
# SNR (de Haan & Jeanne 2013): power within +-SNR_HALF_WIDTH_HZ of the peak and of its
# first harmonic, against the rest of the band.
SNR_HALF_WIDTH_HZ = 0.1
# Quality from SNR. On 10 s windows of white and random-walk noise at 15 fps, the
# best peak's SNR stayed below -2.8 to -3.2 dB in 95 % and below -0.9 to -2.2 dB in
# 99 % of trials (several seeds; tests/test_rppg.py checks it): the floor sits above
# the first, "medium" above the second. A clear synthetic face pulse reads ~+10 dB.
SNR_FLOOR_DB = -2.0
SNR_MEDIUM_DB = 0.0
SNR_HIGH_DB = 3.0


def power_spectrum(signal: np.ndarray, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed, zero-padded power spectrum normalised to unit power in the heart-rate band."""
    n = len(signal)
    windowed = (signal - signal.mean()) * np.hanning(n)
    size = int(2 ** np.ceil(np.log2(n * ZERO_PAD_FACTOR)))
    power = np.abs(np.fft.rfft(windowed, size)) ** 2
    freqs = np.fft.rfftfreq(size, 1.0 / rate_hz)
    band = (freqs >= MIN_BPM / 60) & (freqs <= MAX_BPM / 60)
    total = power[band].sum()
    return freqs, power / total if total > 0 else power


def _band(freqs: np.ndarray) -> np.ndarray:
    return (freqs >= MIN_BPM / 60) & (freqs <= MAX_BPM / 60)


def peak_salience(freqs: np.ndarray, power: np.ndarray) -> np.ndarray:
    """How likely each frequency is the heart rate: whitened power plus its harmonic's share."""
    band = _band(freqs)
    positive = np.maximum(power, 1e-30)
    slope, intercept = np.polyfit(np.log(freqs[band]), np.log(positive[band]), 1)
    whitened = positive / np.exp(intercept + slope * np.log(np.maximum(freqs, freqs[1])))
    return whitened + HARMONIC_WEIGHT * np.interp(2 * freqs, freqs, whitened, right=0.0)


def spectral_peak(freqs: np.ndarray, power: np.ndarray, near_hz: float | None = None) -> tuple[float, float]:
    """(heart-rate frequency in Hz, SNR in dB) within the band.

    The frequency is the most salient peak (or the salience maximum nearest
    ``near_hz`` when a tracker supplies it), refined by a parabolic fit on the
    raw spectrum; the SNR is measured on the raw spectrum.
    """
    band = np.flatnonzero(_band(freqs))
    salience = peak_salience(freqs, power)
    if near_hz is None:
        i = band[np.argmax(salience[band])]
    else:
        i = band[np.argmin(np.abs(freqs[band] - near_hz))]
    f0 = freqs[i]
    if band[0] < i < band[-1]:
        a, b, c = np.log(power[i - 1 : i + 2] + 1e-30)
        denom = a - 2 * b + c
        if denom < 0:  # a local maximum: refine within half a bin
            shift = float(np.clip(0.5 * (a - c) / denom, -0.5, 0.5))
            f0 = freqs[i] + shift * (freqs[1] - freqs[0])
    in_band = _band(freqs)
    near = (np.abs(freqs - f0) <= SNR_HALF_WIDTH_HZ) | (np.abs(freqs - 2 * f0) <= SNR_HALF_WIDTH_HZ)
    signal_power = power[in_band & near].sum()
    noise_power = power[in_band & ~near].sum()
    snr = 10 * np.log10(signal_power / noise_power) if noise_power > 0 and signal_power > 0 else -np.inf
    return float(f0), float(snr)


def quality_of(snr_db: float) -> str:
    """high / medium / low from the SNR (below the floor there is no estimate)."""
    if snr_db >= SNR_HIGH_DB:
        return "high"
    if snr_db >= SNR_MEDIUM_DB:
        return "medium"
    return "low"


def track(freqs: np.ndarray, powers: Sequence[np.ndarray], step_s: float) -> np.ndarray:
    """Most likely heart rate (bpm) per window: Viterbi over salience with Gaussian steps."""
    band = np.flatnonzero(_band(freqs))
    bpm = freqs[band] * 60
    log_like = []
    for power in powers:
        salience = peak_salience(freqs, power)[band]
        log_like.append(np.log(salience / salience.sum() + 1e-12))
    sigma = TRACK_BPM_PER_S * step_s
    transition = -0.5 * ((bpm[:, None] - bpm[None, :]) / sigma) ** 2
    score = log_like[0].copy()
    back = []
    for frame in log_like[1:]:
        candidates = score[:, None] + transition
        back.append(candidates.argmax(axis=0))
        score = candidates.max(axis=0) + frame
    path = [int(score.argmax())]
    for pointers in reversed(back):
        path.append(int(pointers[path[-1]]))
    return bpm[path[::-1]]
