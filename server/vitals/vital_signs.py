"""The vital signs of one moment or one recording, as one frozen type every layer passes around.

The camera heart rate (``server/vitals/rppg.py``) and an ECG's summary
(``server/assess/ecg_report.py``) become a :class:`Vitals`; fusion
(``server/pain/physiology/physiology.py``), the spoken phrase (``server/assess/speech.py``)
and the patient record (``server/store/``) read its attributes, and only
:meth:`Vitals.to_dict` (through ``Result.to_dict``) turns it into JSON.

Where to add a vital sign (docs/ARCHITECTURE.md "Where to add"): a new
measurement, e.g. a respiration rate, is a new optional field defaulting to
None, written by ``to_dict`` only when it was measured; the readers of the
heart rate and the JSON of streams without it do not change.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from server.vitals.respiration import Respiration

# Decimals a reading keeps: the heart-rate estimators resolve about a tenth of a
# bpm at best (rPPG: a 10 s window interpolated by zero padding; ECG: the mean
# beat-to-beat interval), and the API has always reported these precisions.
BPM_DECIMALS = 1
SNR_DECIMALS = 1
WINDOW_DECIMALS = 1
SERIES_TIME_DECIMALS = 2  # a window's end time, to 10 ms
WAVEFORM_DECIMALS = 3  # the drawn pulse waveform is normalised to unit spread


@dataclass(frozen=True)
class Vitals:
    """Vital signs over a window: ``heart_rate_bpm`` is None when it was not measured (``reason`` says why).

    ``quality`` is high / medium / low (None without an estimate); ``snr_db`` the
    signal-to-noise ratio it came from (None for an ECG); ``window_s`` how many
    seconds it covers. Optional parts: ``waveform`` (the recent pulse, sampled at
    ``waveform_hz``, for drawing) and ``series`` (a recording's per-window readings).
    """

    heart_rate_bpm: float | None = None
    quality: str | None = None
    snr_db: float | None = None
    window_s: float = 0.0
    reason: str | None = None
    waveform: tuple[float, ...] | None = None
    waveform_hz: float | None = None
    series: tuple["TimedVitals", ...] | None = None
    # The breathing rate of the same recording (server/vitals/respiration.py), when it was looked for.
    respiration: Respiration | None = None

    @property
    def heart_rate_usable(self) -> bool:
        """Whether the heart rate was measured well enough to be said aloud or compared (not low quality)."""
        return self.heart_rate_bpm is not None and self.quality != "low"

    def to_dict(self) -> dict[str, Any]:
        """The ``vitals`` object of a Result (docs/ARCHITECTURE.md); optional parts only when present."""
        out: dict[str, Any] = {
            "heart_rate_bpm": self.heart_rate_bpm,
            "quality": self.quality,
            "snr_db": self.snr_db,
            "window_s": self.window_s,
            "reason": self.reason,
        }
        if self.waveform is not None:
            out["waveform"] = list(self.waveform)
            out["waveform_hz"] = self.waveform_hz
        if self.series is not None:
            out["series"] = [point.to_dict() for point in self.series]
        if self.respiration is not None:
            out.update(self.respiration.as_vitals())
        return out


@dataclass(frozen=True)
class TimedVitals:
    """One reading of a series: the vitals of the window that ends at ``t_s`` (seconds from the start)."""

    t_s: float
    vitals: Vitals

    def to_dict(self) -> dict[str, Any]:
        """A series entry: the window's end time and its heart rate."""
        v = self.vitals
        return {"t_s": self.t_s, "heart_rate_bpm": v.heart_rate_bpm, "quality": v.quality, "snr_db": v.snr_db}


def heart_rate_vitals(
    bpm: float | None,
    quality: str | None,
    snr_db: float | None,
    window_s: float,
    reason: str | None = None,
    waveform: Sequence[float] | None = None,
    waveform_hz: float | None = None,
) -> Vitals:
    """A heart-rate reading kept at the precision it is reported with (the ``*_DECIMALS`` above)."""
    return Vitals(
        heart_rate_bpm=_round(bpm, BPM_DECIMALS),
        quality=quality,
        snr_db=_round(snr_db, SNR_DECIMALS),
        window_s=round(float(window_s), WINDOW_DECIMALS),
        reason=reason,
        waveform=None if waveform is None else tuple(round(float(v), WAVEFORM_DECIMALS) for v in waveform),
        waveform_hz=None if waveform is None else waveform_hz,
    )


def series_point(t_s: float, bpm: float | None, quality: str | None, snr_db: float | None) -> TimedVitals:
    """A series entry at the precision it is reported with; like the JSON, it carries no reason."""
    return TimedVitals(
        round(float(t_s), SERIES_TIME_DECIMALS),
        Vitals(heart_rate_bpm=_round(bpm, BPM_DECIMALS), quality=quality, snr_db=_round(snr_db, SNR_DECIMALS)),
    )


def _round(value: float | None, decimals: int) -> float | None:
    return None if value is None else round(float(value), decimals)
