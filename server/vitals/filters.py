"""Signal steps of remote photoplethysmography: resampling, detrending and band-limiting. NumPy only.

The heart-rate band and the uniform rate every trace is resampled to are
defined here; ``server/vitals/pulse_methods.py``, ``spectrum.py`` and
``rppg.py`` build on them.
"""
from __future__ import annotations

import functools

import numpy as np

# Heart-rate band: 42-240 bpm covers resting bradycardia to maximal exertion.
MIN_BPM, MAX_BPM = 42.0, 240.0
RESAMPLE_HZ = 30.0  # uniform rate the trace is resampled to (above twice 4 Hz, the band's top)
# Smoothness-priors detrending (Tarvainen et al. 2002) acts as a high-pass whose cut-off
# is ~0.189 Hz for lambda 10 at 4 Hz and scales as rate / sqrt(lambda). The cut-off is
# put below the band's lower edge (0.7 Hz) so the slowest heart rates survive.
DETREND_CUTOFF_HZ = 0.5
DETREND_LAMBDA = 10.0 * (0.189 * (RESAMPLE_HZ / 4.0) / DETREND_CUTOFF_HZ) ** 2  # ~80 at 30 Hz


def resample(t_s: np.ndarray, values: np.ndarray, rate_hz: float = RESAMPLE_HZ) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation of (possibly uneven, possibly unsorted) samples onto a uniform grid."""
    order = np.argsort(t_s, kind="stable")
    t_s, values = t_s[order], values[order]
    keep = np.concatenate([[True], np.diff(t_s) > 0])  # duplicate timestamps: keep the first
    t_s, values = t_s[keep], values[keep]
    grid = np.arange(t_s[0], t_s[-1], 1.0 / rate_hz)
    if values.ndim == 1:
        return grid, np.interp(grid, t_s, values)
    return grid, np.stack([np.interp(grid, t_s, values[:, c]) for c in range(values.shape[1])], axis=1)


def detrend(signal: np.ndarray, lam: float = DETREND_LAMBDA) -> np.ndarray:
    """Remove slow drift (lighting, auto-exposure) by smoothness priors (Tarvainen et al. 2002)."""
    n = len(signal)
    if n < 3:
        return signal - signal.mean()
    return _detrend_operator(n, lam) @ signal


@functools.lru_cache(maxsize=32)
def _detrend_operator(n: int, lam: float) -> np.ndarray:
    """I - (I + lam^2 D2'D2)^-1: windows repeat their length, so the inverse is reused."""
    second_diff = np.zeros((n - 2, n))
    idx = np.arange(n - 2)
    second_diff[idx, idx], second_diff[idx, idx + 1], second_diff[idx, idx + 2] = 1.0, -2.0, 1.0
    return np.eye(n) - np.linalg.inv(np.eye(n) + lam**2 * second_diff.T @ second_diff)


def bandpass(signal: np.ndarray, rate_hz: float, low_hz: float = MIN_BPM / 60, high_hz: float = MAX_BPM / 60) -> np.ndarray:
    """Zero every frequency outside [low, high] (an ideal filter; the windows are short)."""
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(len(signal), 1.0 / rate_hz)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0
    return np.fft.irfft(spectrum, n=len(signal))
