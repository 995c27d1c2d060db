"""A reading as the median of the last fraction of a second: one frame's landmark glitch is not a peak.

The fitted pain head says over how long (``PainHead.smoothing_s``; chosen by
leave-one-subject-out on the development set, docs/validation.md "How well it reads
pain"). Each action unit is the median of its values over that window, and the
PSPI, level and level probabilities follow from those medians, so the bars,
the number and the level on screen always agree. Estimators without action
units pass through unchanged.
"""
from __future__ import annotations

import dataclasses
from collections import deque
from typing import Sequence

import numpy as np

from server.pain import scale
from server.pain.estimate import PainEstimate, sigma_for_confidence

# Readings this close in time count as inside the window (float time stamps of 5 frames/s samples).
TIME_EPSILON_S = 1e-6


class ReadingSmoother:
    """Per stream or video: the median of each action unit over the last ``window_s`` seconds."""

    def __init__(self, window_s: float, thresholds: Sequence[float] = scale.DEFAULT_THRESHOLDS) -> None:
        self.window_s = window_s
        self.thresholds = tuple(thresholds)
        self._recent: deque[tuple[float, dict[str, float]]] = deque()

    def add(self, t_s: float, pain: PainEstimate | None) -> PainEstimate | None:
        """This reading, smoothed over the window that ends with it (None and AU-less readings pass through)."""
        if pain is None or pain.action_units is None or self.window_s <= 0:
            return pain
        self._recent.append((t_s, dict(pain.action_units)))
        while self._recent and self._recent[0][0] < t_s - self.window_s - TIME_EPSILON_S:
            self._recent.popleft()
        if len(self._recent) == 1:
            return pain
        units = {au: round(float(np.median([u[au] for _, u in self._recent])), 2) for au in pain.action_units}
        pspi = round(scale.pspi_from_action_units(units), 2)
        return dataclasses.replace(
            pain, action_units=units, pspi=pspi, level=scale.level_for_pspi(pspi, self.thresholds),
            probabilities=scale.level_probabilities(pspi, sigma_for_confidence(pain.confidence), self.thresholds),
        )

    def clear(self) -> None:
        """Forget (the face was lost, or the stream recalibrated)."""
        self._recent.clear()


def smoother_for(estimator: object) -> ReadingSmoother | None:
    """The smoother an estimator's readings go through: the pain head's window for the FACS estimator
    (it has a ``head``), none for estimators that read no action units."""
    head = getattr(estimator, "head", None)
    if head is None or head.smoothing_s <= 0:
        return None
    return ReadingSmoother(head.smoothing_s, getattr(estimator, "thresholds", scale.DEFAULT_THRESHOLDS))
