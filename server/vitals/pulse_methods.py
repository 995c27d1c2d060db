"""The pulse methods: uniformly sampled skin RGB -> a pulse signal, one small pure function each.

As rPPG-Toolbox keeps them (``unsupervised_methods``): GREEN, CHROM and POS
take an (N, 3) RGB trace and its rate and return an N-sample pulse;
:func:`pulse_signal` adds the detrending and band-limiting every method shares.
"""
from __future__ import annotations

from typing import Callable, Mapping

import numpy as np

from server.vitals.filters import bandpass, detrend

POS_WINDOW_S = 1.6  # POS projection window: ~one cardiac cycle at 40 bpm (Wang et al. 2017)
MIN_CHANNEL_MEAN = 1.0  # an all-black region has no colour to normalise

METHOD_NAMES = ("pos", "chrom", "green")


def _normalised(rgb: np.ndarray) -> np.ndarray:
    mean = rgb.mean(axis=0)
    return rgb / np.maximum(mean, MIN_CHANNEL_MEAN)


def pulse_green(rgb: np.ndarray, rate_hz: float) -> np.ndarray:
    """GREEN (Verkruysse et al. 2008): the normalised green channel."""
    return _normalised(rgb)[:, 1] - 1.0


def pulse_chrom(rgb: np.ndarray, rate_hz: float) -> np.ndarray:
    """CHROM (de Haan & Jeanne 2013): two chrominance signals, combined to cancel specular change."""
    n = _normalised(rgb)
    x = bandpass(3.0 * n[:, 0] - 2.0 * n[:, 1], rate_hz)
    y = bandpass(1.5 * n[:, 0] + n[:, 1] - 1.5 * n[:, 2], rate_hz)
    alpha = x.std() / max(y.std(), 1e-12)
    return x - alpha * y


def pulse_pos(rgb: np.ndarray, rate_hz: float) -> np.ndarray:
    """POS (Wang et al. 2017): projection on the plane orthogonal to skin tone, overlap-added."""
    length = min(max(2, int(round(POS_WINDOW_S * rate_hz))), len(rgb))
    windows = np.lib.stride_tricks.sliding_window_view(rgb, length, axis=0)  # (W, 3, length)
    n = windows / np.maximum(windows.mean(axis=2, keepdims=True), MIN_CHANNEL_MEAN)
    s1 = n[:, 1] - n[:, 2]
    s2 = -2.0 * n[:, 0] + n[:, 1] + n[:, 2]
    h = s1 + (s1.std(axis=1) / np.maximum(s2.std(axis=1), 1e-12))[:, None] * s2
    h -= h.mean(axis=1, keepdims=True)
    out = np.zeros(len(rgb))
    for offset in range(length):  # overlap-add: window w covers samples w .. w+length-1
        out[offset : offset + len(h)] += h[:, offset]
    return out


METHODS: Mapping[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "pos": pulse_pos,
    "chrom": pulse_chrom,
    "green": pulse_green,
}


def pulse_signal(rgb: np.ndarray, rate_hz: float, method: str = "pos") -> np.ndarray:
    """Uniformly sampled RGB -> detrended, band-limited pulse signal."""
    if method not in METHODS:
        raise ValueError(f"unknown rPPG method {method!r}; choose one of {', '.join(METHOD_NAMES)}")
    raw = METHODS[method](rgb.astype(np.float64), rate_hz)
    return bandpass(detrend(raw), rate_hz)
