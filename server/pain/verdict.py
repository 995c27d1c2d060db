"""What a clinician should be told for a clip or a stream: the highest level *sustained*, not one frame's spike.

A grimace of pain lasts seconds; a blink, a word or a landmark glitch lasts a
frame or two. So the verdict of a clip is the highest level that the readings
held without a break for at least SUSTAIN_S, and its score the highest PSPI
held that long. Live speech follows the same rule over the last SUSTAIN_S.
A clip shorter than SUSTAIN_S is judged over all of it.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence, TypeVar

from server.pain import scale

SUSTAIN_S = 1.0  # the "at least 1 s": longer than a blink or a word, shorter than a grimace
# Frames further apart than this break a stretch (the face was lost in between).
MAX_GAP_S = 0.5


@dataclass(frozen=True)
class Reading:
    """One frame's reading: its time, level and PSPI (None for estimators without one)."""

    t_s: float
    level: str
    pspi: float | None


@dataclass(frozen=True)
class Verdict:
    """The sustained level and PSPI of a clip or of a stream's last seconds."""

    level: str | None  # None: no face was read at all
    pspi: float | None
    seconds: float  # how long the stretch that sets it lasted

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"level": self.level, "pspi": None if self.pspi is None else round(self.pspi, 2),
                "sustain_s": round(self.seconds, 2)}


T = TypeVar("T")


def _stretches(items: Sequence[T], time_of: Callable[[T], float] = lambda r: r.t_s) -> list[list[T]]:
    """Runs of readings (or other timed items) with no gap longer than MAX_GAP_S."""
    runs: list[list[T]] = []
    for item in items:
        if runs and time_of(item) - time_of(runs[-1][-1]) <= MAX_GAP_S:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _usable(runs: list[list[T]], time_of: Callable[[T], float], sustain_s: float) -> tuple[list[list[T]], float]:
    """The runs long enough to judge (those lasting ``sustain_s``, or the longest when none does) and how
    long the longest run lasts."""
    longest = max(time_of(run[-1]) - time_of(run[0]) for run in runs)
    return [run for run in runs if time_of(run[-1]) - time_of(run[0]) >= min(sustain_s, longest)], longest


def _held(values: Sequence[float], times: Sequence[float], sustain_s: float) -> float:
    """The highest value that ``values`` stay at or above for ``sustain_s`` (the whole run if shorter)."""
    if times[-1] - times[0] < sustain_s:
        return min(values)
    best = float("-inf")
    start = 0
    for end in range(len(values)):
        # the shortest window ending here that still spans sustain_s
        while start < end and times[end] - times[start + 1] >= sustain_s:
            start += 1
        if times[end] - times[start] >= sustain_s:
            best = max(best, min(values[start:end + 1]))
    return best


def clip_verdict(readings: Sequence[Reading], sustain_s: float = SUSTAIN_S) -> Verdict:
    """The highest level (and PSPI) held for ``sustain_s`` in a clip's readings, in time order."""
    if not readings:
        return Verdict(None, None, 0.0)
    # Short of any run lasting sustain_s, the longest run is what there is to judge.
    usable, longest = _usable(_stretches(readings), lambda r: r.t_s, sustain_s)
    level_index, pspi = 0, None
    for run in usable:
        times = [r.t_s for r in run]
        level_index = max(level_index, int(_held([scale.LEVELS.index(r.level) for r in run], times, sustain_s)))
        if all(r.pspi is not None for r in run):
            held = _held([float(r.pspi) for r in run], times, sustain_s)
            pspi = held if pspi is None else max(pspi, held)
    return Verdict(scale.LEVELS[level_index], pspi, min(sustain_s, longest))


def sustained_action_units(
    timed_units: Sequence[tuple[float, Mapping[str, float]]], sustain_s: float = SUSTAIN_S
) -> dict[str, float]:
    """Each action unit's highest intensity held for ``sustain_s`` in a clip's frames ((time, units), in time
    order), by the rule of the clip's level: one frame's spike (a blink, a word) does not count. {} without frames."""
    if not timed_units:
        return {}
    usable, _ = _usable(_stretches(timed_units, lambda item: item[0]), lambda item: item[0], sustain_s)
    names = sorted({name for _, units in timed_units for name in units})
    return {
        name: max(_held([units.get(name, 0.0) for _, units in run], [t for t, _ in run], sustain_s) for run in usable)
        for name in names
    }


class SustainedLevel:
    """A stream's verdict over its last SUSTAIN_S: what live speech announces."""

    def __init__(self, sustain_s: float = SUSTAIN_S) -> None:
        self.sustain_s = sustain_s
        self._recent: deque[Reading] = deque()

    def add(self, reading: Reading) -> Verdict:
        """Take one frame's reading; the level held over the last ``sustain_s`` (lowest level in it)."""
        if self._recent and reading.t_s - self._recent[-1].t_s > MAX_GAP_S:
            self._recent.clear()
        self._recent.append(reading)
        while len(self._recent) > 1 and reading.t_s - self._recent[1].t_s >= self.sustain_s:
            self._recent.popleft()
        lowest = min(scale.LEVELS.index(r.level) for r in self._recent)
        span = reading.t_s - self._recent[0].t_s
        # Until a full second is seen, the stream is "none" unless the first frames already hold a level.
        level = scale.LEVELS[lowest] if span >= self.sustain_s else scale.LEVELS[0]
        pspis = [r.pspi for r in self._recent]
        pspi = min(pspis) if span >= self.sustain_s and all(p is not None for p in pspis) else None
        return Verdict(level, pspi, span)

    def clear(self) -> None:
        """Forget (the face was lost or the person recalibrated)."""
        self._recent.clear()
