"""Body movement over the last seconds of a live stream: the Live tab's optional movement index.

The body is looked at a few times a second, not every frame: MediaPipe Pose
costs ~30-40 ms a frame here, and limb movement that a behavioural scale cares
about (kicking, squirming, FLACC's "legs" and "activity") lasts much longer
than a frame. The index is the one of uploaded videos
(:func:`server.vision.body.movement_summary`, body sizes per second) over a
sliding window. Pure numpy / MediaPipe; nothing here knows of Flask.
"""
from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from server.vision.body import BODY_VIDEO_FPS, BodyParts, PartFinder, movement_summary

# The same sampling rate as uploaded videos, so a live index and a video's read alike.
LIVE_BODY_FPS = BODY_VIDEO_FPS
# The index covers the last this-many seconds: ten samples at 2 fps average out the
# centroid jitter of single frames, and a clinician sees a change within seconds.
LIVE_BODY_WINDOW_S = 5.0


class LiveBodyMovement:
    """Samples a stream's frames at ``fps`` and reports the movement index of the last ``window_s``."""

    def __init__(self, finder: PartFinder, fps: float = LIVE_BODY_FPS, window_s: float = LIVE_BODY_WINDOW_S) -> None:
        self.finder = finder
        self.interval_s = 1.0 / fps
        self.window_s = window_s
        self._observations: deque[tuple[float, BodyParts]] = deque()
        self._last_t = float("-inf")
        self._summary: dict[str, Any] | None = None

    def add(self, t_s: float, rgb: np.ndarray) -> None:
        """Look at this frame if the last look was at least one interval ago."""
        if t_s - self._last_t < self.interval_s:
            return
        self._last_t = t_s
        self._observations.append((t_s, self.finder.process(rgb)))
        while self._observations and self._observations[0][0] < t_s - self.window_s:
            self._observations.popleft()
        self._summary = None

    def current(self) -> dict[str, Any]:
        """Movement index per part over the window (None per part until it was seen twice), and what it covers."""
        if self._summary is None:
            summary = movement_summary(list(self._observations))
            self._summary = {
                "movement_index": summary["movement_index"],
                "person_found": bool(self._observations) and self._observations[-1][1].person_found,
                "window_s": self.window_s,
                "frames_analysed": summary["frames_analysed"],
                "method": getattr(self.finder, "method", None),
            }
        return self._summary

    def close(self) -> None:
        """Release the finder's graph, if it has one."""
        close = getattr(self.finder, "close", None)
        if close is not None:
            close()
