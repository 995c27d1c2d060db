"""One reading per second: the frames of a second of a live stream or a video, summarised. No Flask here.

A live stream gives ~15 Results a second and a video 5; storing each would
make the record as jittery as the frames and far larger than anyone reads.
A second's reading is:

- ``pspi``: the median of the frames' PSPI (the upper median, so it is a value
  a frame really had), and ``level``: that frame's level. An estimator without
  a PSPI (a sequence model) gives the upper median of the frames' levels.
  The median, not the mean, so one mis-tracked frame cannot make a second painful.
- ``confidence``: the mean of the frames' confidences;
- ``action_units``: each AU's mean over the frames that measured it;
- ``heart_rate_bpm`` / ``heart_rate_quality``: the last measured heart rate of
  the second (a heart rate is a 10 s window, so the last is the newest);
- ``respiration_rate_bpm``: likewise the last measured breathing rate of the second;
- ``frames``, ``face_share`` (frames with a face / frames) and ``face_found`` (any).
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Iterable, Sequence

from server.pain.scale import LEVELS
from server.store.records import (
    AU_DECIMALS,
    CONFIDENCE_DECIMALS,
    HEART_RATE_DECIMALS,
    PSPI_DECIMALS,
    RESPIRATION_DECIMALS,
    SHARE_DECIMALS,
    ReadingRow,
)
from server.pain.result import Result
from server.vitals.vital_signs import TimedVitals

# Client timestamps are float milliseconds: 2999.9999999 ms must still fall in second 2.
TIME_EPSILON_S = 1e-6


def second_of(offset_s: float) -> int:
    """The whole second an offset (seconds from the start) falls in; never negative."""
    return max(0, math.floor(offset_s + TIME_EPSILON_S))


class SecondSummary:
    """The frames of one second, summarised into one reading."""

    def __init__(self, index: int) -> None:
        """``index``: the second, counted from the start of the assessment (0 = the first second)."""
        self.index = index
        self.frames = 0
        self.with_face = 0
        self._pain: list[tuple[float | None, str]] = []  # (pspi, level) of frames with an estimate
        self._confidences: list[float] = []
        self._au_sums: dict[str, float] = {}
        self._au_counts: dict[str, int] = {}
        self.heart_rate: tuple[float | None, str | None] = (None, None)
        self.respiration_bpm: float | None = None
        self.last_offset_s = float(index)  # the latest frame's offset (for a partial last second)

    def add(self, result: Result, offset_s: float | None = None) -> None:
        """Count one frame's Result (its vitals give the heart rate when they measured one)."""
        self.frames += 1
        if offset_s is not None:
            self.last_offset_s = max(self.last_offset_s, offset_s)
        if result.face is not None:
            self.with_face += 1
        pain = result.pain
        if pain is not None:
            self._pain.append((pain.pspi, pain.level))
            self._confidences.append(pain.confidence)
            for name, value in (pain.action_units or {}).items():
                self._au_sums[name] = self._au_sums.get(name, 0.0) + float(value)
                self._au_counts[name] = self._au_counts.get(name, 0) + 1
        if result.vitals is not None:
            self.note_heart_rate(result.vitals.heart_rate_bpm, result.vitals.quality)
            breathing = result.vitals.respiration
            if breathing is not None and breathing.rate_bpm is not None:
                self.respiration_bpm = float(breathing.rate_bpm)

    def note_heart_rate(self, bpm: float | None, quality: str | None) -> None:
        """A heart rate measured in this second; the last measured one is kept."""
        if bpm is not None:
            self.heart_rate = (float(bpm), quality)

    def _median_pain(self) -> tuple[float | None, str | None]:
        with_pspi = sorted((p, level) for p, level in self._pain if p is not None)
        if with_pspi:
            return with_pspi[len(with_pspi) // 2]
        ranks = sorted(LEVELS.index(level) for _, level in self._pain if level in LEVELS)
        return (None, LEVELS[ranks[len(ranks) // 2]]) if ranks else (None, None)

    def reading(self, origin: dt.datetime) -> ReadingRow:
        """The reading of this second; ``origin`` is the wall-clock time of second 0."""
        pspi, level = self._median_pain()
        units = {name: round(total / self._au_counts[name], AU_DECIMALS) for name, total in self._au_sums.items()}
        bpm, quality = self.heart_rate
        return ReadingRow(
            t=origin + dt.timedelta(seconds=self.index),
            offset_s=float(self.index),
            pspi=None if pspi is None else round(pspi, PSPI_DECIMALS),
            level=level,
            confidence=(
                round(sum(self._confidences) / len(self._confidences), CONFIDENCE_DECIMALS)
                if self._confidences else None
            ),
            action_units=units or None,
            heart_rate_bpm=None if bpm is None else round(bpm, HEART_RATE_DECIMALS),
            heart_rate_quality=quality if bpm is not None else None,
            face_found=self.with_face > 0,
            face_share=round(self.with_face / self.frames, SHARE_DECIMALS) if self.frames else 0.0,
            frames=self.frames,
            respiration_rate_bpm=(
                None if self.respiration_bpm is None else round(self.respiration_bpm, RESPIRATION_DECIMALS)
            ),
        )


def summarise_seconds(
    samples: Iterable[tuple[float, Result]],
    origin: dt.datetime,
    heart_rates: Sequence[TimedVitals] = (),
) -> list[ReadingRow]:
    """One reading per second that has frames, for a whole recording (a video).

    ``samples``: (seconds from the start, Result). ``heart_rates``: a heart-rate
    series (``Vitals.series`` of server/assess/analysis.py ``video_vitals``), each
    value counted in the second its window ends in, instead of the Results' own vitals.
    """
    seconds: dict[int, SecondSummary] = {}
    for t_s, result in samples:
        index = second_of(t_s)
        seconds.setdefault(index, SecondSummary(index)).add(result, t_s)
    for point in sorted(heart_rates, key=lambda p: p.t_s):
        summary = seconds.get(second_of(point.t_s))
        if summary is not None:
            summary.note_heart_rate(point.vitals.heart_rate_bpm, point.vitals.quality)
    return [seconds[index].reading(origin) for index in sorted(seconds)]
