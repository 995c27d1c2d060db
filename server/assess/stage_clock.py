"""Stage timings of one analysis (``timing_ms`` in a Result, and the stage histogram in /metrics)."""
from __future__ import annotations

import time


class StageClock:
    """Stage timings in milliseconds: ``lap(stage)`` after each stage, ``total()`` at the end."""

    def __init__(self) -> None:
        self.start = self._last = time.perf_counter()
        self.ms: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        """Charge the time since the previous lap to ``stage``."""
        now = time.perf_counter()
        self.ms[stage] = self.ms.get(stage, 0.0) + (now - self._last) * 1000.0
        self._last = now

    def carve(self, stage: str, part: str, ms: float) -> None:
        """Charge ``ms`` of what ``stage`` took to ``part`` instead (e.g. the blendshapes inside "face")."""
        self.ms[stage] = self.ms.get(stage, 0.0) - ms
        self.ms[part] = self.ms.get(part, 0.0) + ms

    def total(self) -> dict[str, float]:
        """All stage timings plus ``total`` since the clock started."""
        self.ms["total"] = (time.perf_counter() - self.start) * 1000.0
        return self.ms
