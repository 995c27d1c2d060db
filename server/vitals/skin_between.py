"""Skin colour on every frame of a video, from face landmarks found on a few of them.

A video's heart rate wants the skin colour of every frame (up to ``VIDEO_MAX_FPS``),
while the face is found only on the frames the pain reading samples (issue 26: one
face pass per sampled frame, not a Face Mesh run on every frame, which cost 43 % of
a video's analysis). The frames in between are held until the next detection, and
their skin regions are placed by the landmarks interpolated linearly in time between
the two detections around them. Only those few frames are held, so memory is bounded
by the spacing of detections, never by the video's length.

A held frame gets no skin colour when either detection around it found no patient:
the face was lost somewhere in between, and guessing where it was would put
background into the pulse trace. No Flask here.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Mapping

import numpy as np

from server.vitals.skin import region_means

SkinRow = tuple[float, Mapping[str, np.ndarray]]  # (frame time, mean skin RGB per region)


class SkinBetweenDetections:
    """Mean skin colour per region of every frame, placed by landmarks interpolated between detections.

    Feed the frames in time order: :meth:`frame` for a frame without a detection,
    :meth:`detection` for one with (its patient's landmarks, or None), and
    :meth:`finish` at the end. Each returns the rows that became known.
    ``max_held`` bounds the frames waiting for the next detection (the oldest go first).
    """

    def __init__(self, max_held: int, measure: Callable[[np.ndarray, np.ndarray], Mapping[str, np.ndarray]]
                 = region_means) -> None:
        self._held: deque[tuple[float, np.ndarray]] = deque(maxlen=max(1, max_held))
        self._last: tuple[float, np.ndarray | None] | None = None  # the last detection: time, landmarks
        self._measure = measure

    def frame(self, t_s: float, rgb: np.ndarray) -> None:
        """A frame the face was not looked for in: held until the next detection places its skin."""
        self._held.append((t_s, rgb))

    def detection(self, t_s: float, rgb: np.ndarray, landmarks: np.ndarray | None) -> list[SkinRow]:
        """A frame the face was looked for in (``landmarks`` of its patient, None if none): the rows of
        the frames held since the previous detection, then this frame's."""
        rows: list[SkinRow] = []
        before = self._last
        if before is not None and before[1] is not None and landmarks is not None and t_s > before[0]:
            t0, start = before
            for held_t, held_rgb in self._held:
                share = min(1.0, max(0.0, (held_t - t0) / (t_s - t0)))
                rows.append(self._row(held_t, held_rgb, start + (landmarks - start) * share))
        self._held.clear()
        if landmarks is not None:
            rows.append(self._row(t_s, rgb, landmarks))
        self._last = (t_s, landmarks)
        return [row for row in rows if row[1]]

    def finish(self) -> list[SkinRow]:
        """The frames after the last detection, placed by its landmarks (the face held still that long)."""
        rows: list[SkinRow] = []
        if self._last is not None and self._last[1] is not None:
            rows = [self._row(t, rgb, self._last[1]) for t, rgb in self._held]
        self._held.clear()
        return [row for row in rows if row[1]]

    def _row(self, t_s: float, rgb: np.ndarray, landmarks: np.ndarray) -> SkinRow:
        return t_s, self._measure(rgb, landmarks)
