"""The streaming heart rate: a live stream's or a session's skin-colour history and its current heart rate."""
from __future__ import annotations

from collections import deque
from typing import Mapping, Sequence

import numpy as np

from server.vitals.pulse_methods import METHODS
from server.vitals.region_fusion import RegionTrace, traces_from_rows
from server.vitals.rppg import DEFAULT_WINDOW_S, MIN_SIGNAL_S, HeartRate, estimate_window

MAX_GAP_S = 1.0  # a face lost for longer than this breaks the skin-colour trace

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
