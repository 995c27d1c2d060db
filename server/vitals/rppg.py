"""Heart rate from skin colour (remote photoplethysmography). NumPy only: traces in, estimates out.

The blood volume pulse changes skin colour by a fraction of a percent, mostly
in green. Per frame, each skin region gives one mean RGB value with its capture
time. The steps:

1. Resample the trace to a uniform rate from the real timestamps (browser
   frames arrive unevenly).
2. Turn RGB into a pulse signal with POS, CHROM or GREEN.
3. Detrend, and band-limit to 42-240 bpm.
4. Take the spectral peak with sub-bin interpolation.

Regions are fused by weighting their spectra by signal quality (SNR).

``python -m server.vitals.rppg CLIP ...`` runs it on video files.
"""
from __future__ import annotations

import functools
from collections import deque
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from server.vitals.vital_signs import Vitals, heart_rate_vitals

# Heart-rate band: 42-240 bpm covers resting bradycardia to maximal exertion.
MIN_BPM, MAX_BPM = 42.0, 240.0
RESAMPLE_HZ = 30.0  # uniform rate the trace is resampled to (above twice 4 Hz, the band's top)
VIDEO_MAX_FPS = 30.0  # video frames read for rPPG per second: a 60 fps video is thinned to this
DEFAULT_WINDOW_S = 10.0  # spectral window: ~0.1 Hz (6 bpm) native resolution before interpolation
DEFAULT_STEP_S = 1.0  # sliding step of the per-window series
MIN_SIGNAL_S = 5.0  # less than this is too few beats (~4 at 50 bpm) for a spectral estimate
POS_WINDOW_S = 1.6  # POS projection window: ~one cardiac cycle at 40 bpm (Wang et al. 2017)
# Smoothness-priors detrending (Tarvainen et al. 2002) acts as a high-pass whose cut-off
# is ~0.189 Hz for lambda 10 at 4 Hz and scales as rate / sqrt(lambda). The cut-off is
# put below the band's lower edge (0.7 Hz) so the slowest heart rates survive.
DETREND_CUTOFF_HZ = 0.5
DETREND_LAMBDA = 10.0 * (0.189 * (RESAMPLE_HZ / 4.0) / DETREND_CUTOFF_HZ) ** 2  # ~80 at 30 Hz
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
TRACK_STEP_S = 2.0
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
# Motion: a face moving by more than this fraction of its size per second
# smears the skin regions across background and features; no estimate then.
MAX_MOTION_PER_S = 0.5
MIN_CHANNEL_MEAN = 1.0  # an all-black region has no colour to normalise
MAX_GAP_S = 1.0  # a face lost for longer than this breaks the skin-colour trace

METHOD_NAMES = ("pos", "chrom", "green")



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


# ---------------------------------------------------------------- signal steps


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


# ------------------------------------------------------------------ estimation


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


class MotionMeter:
    """Face motion between consecutive samples: box-centre travel in box widths per second."""

    def __init__(self) -> None:
        self._last: tuple[float, Sequence[int]] | None = None

    def update(self, t_s: float, box: Sequence[int] | None) -> tuple[float, float]:
        """(motion per second since the previous box, seconds since it); (0, inf) when there is none."""
        last, self._last = self._last, ((t_s, box) if box is not None else None)
        if last is None or box is None or t_s <= last[0]:
            return 0.0, float("inf") if last is None else max(t_s - last[0], 0.0)
        (x0, y0, w0, h0), (x1, y1, w1, h1) = last[1], box
        shift = np.hypot((x1 + w1 / 2) - (x0 + w0 / 2), (y1 + h1 / 2) - (y0 + h0 / 2))
        gap = t_s - last[0]
        return float(shift / max(w0, w1, 1) / gap), gap


class RppgTracker:
    """A stream's skin-colour history, bounded in time, and its current heart rate."""

    def __init__(self, method: str = "pos", window_s: float = DEFAULT_WINDOW_S) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown rPPG method {method!r}")
        self.method = method
        self.window_s = window_s
        self._samples: deque[tuple[float, dict[str, np.ndarray], float]] = deque()
        self._motion = MotionMeter()

    def add(self, t_s: float, region_means: Mapping[str, np.ndarray], box: Sequence[int] | None = None) -> None:
        """One frame: capture time, mean RGB per region, and the face box (None for pre-cropped skin).

        A face seen again after more than MAX_GAP_S breaks the trace: it starts
        afresh rather than being interpolated across the gap.
        """
        motion, gap = self._motion.update(t_s, box)
        if box is not None and self._samples and MAX_GAP_S < gap < float("inf"):
            self._samples.clear()
        self._samples.append((t_s, dict(region_means), motion))
        while self._samples and t_s - self._samples[0][0] > self.window_s:
            self._samples.popleft()

    def __len__(self) -> int:
        return len(self._samples)

    def current(self) -> tuple[HeartRate, np.ndarray | None]:
        """The heart rate over the last window and its pulse waveform (for drawing), if any."""
        regions = self._traces()
        if not regions:
            reason = f"needs {MIN_SIGNAL_S:.0f} s of signal" if self._samples else "no face"
            return HeartRate(None, None, None, 0.0, reason), None
        motion = float(np.median([m for _, _, m in self._samples]))
        rate, fused = estimate_window(regions, self.method, motion)
        return rate, fused.waveform if fused is not None and rate.bpm is not None else None

    def _traces(self) -> list[RegionTrace]:
        rows: dict[str, list[tuple[float, np.ndarray]]] = {}
        for t_s, means, _ in self._samples:
            for name, rgb in means.items():
                rows.setdefault(name, []).append((t_s, rgb))
        return traces_from_rows(rows)


# ----------------------------------------------------------------- command line
# The command line lives in server/vitals/rppg_cli.py: it reads video files
# through server.vitals.skin, which itself builds on this module.

if __name__ == "__main__":
    import sys

    from server.vitals.rppg_cli import main

    sys.exit(main())
