"""The neutral face pain is measured against: references, calibration, rolling, or population."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from server.pain.face import blendshapes as bs
from server.pain.face.landmarks import FEATURES, frontalise, measure, procrustes_align
from server.vision.face import Face

# Population neutral: the feature values of a neutral adult face in the face
# frame. Measured with MediaPipe Face Mesh on the neutral astronaut photo
# (scikit-image, public domain) -- one face, which is why an estimate against it
# is reported as uncalibrated and trusted less.
POPULATION_FEATURES = np.array([0.2144, 0.4327, 0.1002, 0.0543, 0.2346, 0.6370, 0.1497])
assert len(POPULATION_FEATURES) == len(FEATURES)

# Rolling baseline (live streams without explicit calibration). Every feature
# shrinks with pain, so the person's neutral value is a high percentile of what
# the stream has shown: correct as long as the face was relaxed for at least a
# quarter of the window.
ROLLING_NEUTRAL_PERCENTILE = 75.0
# Blendshape scores *rise* with the movements, so their neutral is the mirror percentile.
ROLLING_NEUTRAL_BLENDSHAPE_PERCENTILE = 100.0 - ROLLING_NEUTRAL_PERCENTILE
ROLLING_MIN_SECONDS = 3.0  # less history than this is not a baseline yet
ROLLING_MIN_FRAMES = 15


@dataclass(frozen=True)
class NeutralBaseline:
    """Neutral feature values and where they came from.

    ``kind`` is ``reference`` (neutral photos uploaded with the image),
    ``calibration`` (the clinician pressed "Calibrate neutral"), ``rolling``
    (learned from the stream) or ``population`` (no knowledge of this person).
    ``spread`` is the mean relative standard deviation of the features across
    the frames that made the baseline (0 for a single frame). ``blendshapes``
    is the neutral face's blendshape vector (``server/pain/face/blendshapes.py``).
    """

    kind: str
    features: np.ndarray
    shape: np.ndarray | None
    spread: float = 0.0
    blendshapes: np.ndarray | None = None

    @property
    def calibrated(self) -> bool:
        """True when the baseline is this person's own face."""
        return self.kind != "population"


POPULATION_BASELINE = NeutralBaseline(
    kind="population", features=POPULATION_FEATURES, shape=None, blendshapes=bs.POPULATION_NEUTRAL
)


def baseline_from_faces(faces: Sequence[Face], kind: str) -> NeutralBaseline:
    """A baseline from one or more neutral faces of the same person (aligned, averaged)."""
    if not faces:
        raise ValueError("a baseline needs at least one face")
    shapes = [frontalise(face.landmarks) for face in faces]
    aligned = [shapes[0]] + [procrustes_align(shape, shapes[0]) for shape in shapes[1:]]
    mean_shape = np.mean(aligned, axis=0)
    per_face = np.array([measure(shape) for shape in aligned])
    spread = float((per_face.std(axis=0) / np.abs(per_face.mean(axis=0))).mean()) if len(faces) > 1 else 0.0
    vectors = [v for v in (bs.vector(face.blendshapes) for face in faces) if v is not None]
    neutral_blendshapes = np.mean(vectors, axis=0) if vectors else None
    return NeutralBaseline(
        kind=kind, features=measure(mean_shape), shape=mean_shape, spread=spread, blendshapes=neutral_blendshapes
    )


class RollingBaseline:
    """Learns a person's neutral features from the recent frames of a stream."""

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, np.ndarray, np.ndarray | None]] = deque()

    def add(self, t_s: float, features: np.ndarray, blendshapes: np.ndarray | None = None) -> None:
        """Record one frame's features (and blendshape vector) at stream time ``t_s`` (seconds)."""
        self._samples.append((t_s, features, blendshapes))
        while self._samples and t_s - self._samples[0][0] > self.window_s:
            self._samples.popleft()

    def current(self) -> NeutralBaseline | None:
        """The rolling baseline, or None while there is too little history."""
        if len(self._samples) < ROLLING_MIN_FRAMES:
            return None
        if self._samples[-1][0] - self._samples[0][0] < ROLLING_MIN_SECONDS:
            return None
        values = np.array([features for _, features, _ in self._samples])
        neutral = np.percentile(values, ROLLING_NEUTRAL_PERCENTILE, axis=0)
        vectors = [v for _, _, v in self._samples if v is not None]
        neutral_bs = np.percentile(vectors, ROLLING_NEUTRAL_BLENDSHAPE_PERCENTILE, axis=0) if vectors else None
        return NeutralBaseline(kind="rolling", features=neutral, shape=None, blendshapes=neutral_bs)

    def clear(self) -> None:
        """Forget the history (after an explicit calibration)."""
        self._samples.clear()
