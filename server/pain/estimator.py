"""What every pain estimator offers: a per-stream track that gathers evidence, and an estimate from it.

Estimators differ in what they read. The geometry estimator reads one face's
landmarks against a neutral baseline; the ResNet-18 reads an aligned crop of
the frame's pixels; the LSTM family reads a window of past landmarks. The
callers (photo, video, live stream) do the same thing for all of them:

    track = estimator.track()            # one per photo / video / stream
    track.add(observation)               # every frame with the patient's face
    evidence = track.evidence(observation)  # for a frame that gets a result
    estimator.estimate(face, baseline, steadiness, evidence)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from server.pain.face.baseline import NeutralBaseline
from server.pain.estimate import PainEstimate
from server.vision.face import Face


@dataclass(frozen=True)
class Observation:
    """The patient's face in one frame, the frame's pixels and its capture time."""

    face: Face
    rgb: np.ndarray
    t_s: float


class PainTrack(Protocol):
    """Per-stream state of one estimator."""

    def add(self, observation: Observation) -> None:
        """Take in a frame with the patient's face."""

    def evidence(self, observation: Observation) -> Any:
        """What ``estimate`` needs for this frame (None when nothing is needed or too little is known yet)."""


class PainEstimator(Protocol):
    """A named way of estimating pain."""

    name: str
    needs_sequence: bool  # True: cannot judge a single photo

    def track(self) -> PainTrack:
        """Fresh per-stream state."""

    def estimate(
        self, face: Face, baseline: NeutralBaseline, steadiness: float = 1.0, evidence: Any = None
    ) -> PainEstimate | None:
        """The estimate for ``face``; None when the evidence is not enough yet."""


class StatelessTrack:
    """The track of an estimator that needs nothing beyond the face itself."""

    def add(self, observation: Observation) -> None:
        """Nothing to remember."""

    def evidence(self, observation: Observation) -> None:
        """Nothing to hand over."""
        return None


def frame_fps(estimator: PainEstimator) -> float:
    """Frames per second the estimator's track must see (a window model's clock, ``fps``); 0 when it
    needs no more than the frames it judges (the geometry, the ResNet)."""
    parts = getattr(estimator, "parts", None)
    if parts is not None:  # a fusion: the fastest clock of its parts
        return max((frame_fps(part) for part, _weight in parts), default=0.0)
    return float(getattr(estimator, "fps", 0.0) or 0.0)
