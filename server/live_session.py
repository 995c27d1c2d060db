"""One live camera stream: tracking, the person's baseline, and a Result per frame. No Socket.IO here."""
from __future__ import annotations

from collections import deque

from server.analysis import StageClock, assess
from server.config import Settings
from server.pain.baseline import POPULATION_BASELINE, NeutralBaseline, RollingBaseline, baseline_from_faces
from server.pain.estimate import stability
from server.pain.geometry import GeometryEstimator
from server.problems import InputProblem
from server.result import Result
from server.vision.face import Face, FaceTracker
from server.vision.frames import ImageLimits, decode_image

# "Calibrate neutral" averages the faces seen in the last this-many frames
# (~0.5 s at 15 fps): enough to average out landmark jitter, short enough that
# the face the clinician saw is the one used.
CALIBRATION_FRAMES = 8
# Confidence steadiness is judged over the last this-many results (~1 s).
STABILITY_FRAMES = 15


class LiveSession:
    """State of one stream. Frames must be given one at a time (the caller serialises)."""

    def __init__(self, settings: Settings, estimator: GeometryEstimator, limits: ImageLimits) -> None:
        self.estimator = estimator
        self.limits = limits
        self.tracker = FaceTracker(stream=True, max_side=settings.analysis_max_side)
        self.rolling = RollingBaseline(settings.rolling_baseline_seconds)
        self.calibration: NeutralBaseline | None = None
        self._recent_faces: deque[Face] = deque(maxlen=CALIBRATION_FRAMES)
        self._recent_pspi: deque[float] = deque(maxlen=STABILITY_FRAMES)
        self.frames_analysed = 0

    @property
    def baseline(self) -> NeutralBaseline:
        """Calibration if the clinician made one, else the rolling baseline once learned, else population."""
        return self.calibration or self.rolling.current() or POPULATION_BASELINE

    def process(self, jpeg: bytes, t_ms: float) -> Result:
        """Analyse one frame captured at client time ``t_ms`` (milliseconds)."""
        clock = StageClock()
        rgb = decode_image(jpeg, self.limits)
        clock.lap("decode")
        faces = self.tracker.process(rgb)
        clock.lap("face")
        patient = faces[0] if faces else None
        baseline = self.baseline
        if patient is not None:
            self._recent_faces.append(patient)
            self.rolling.add(t_ms / 1000.0, self.estimator.features(patient))
        result = assess(self.estimator, faces, patient, baseline, stability(self._recent_pspi), clock)
        if result.pain is not None:
            self._recent_pspi.append(result.pain.pspi)
        self.frames_analysed += 1
        return result

    def calibrate(self) -> NeutralBaseline:
        """Take the faces of the last few frames as this person's neutral face."""
        if not self._recent_faces:
            raise InputProblem("no_face", "No face is visible to calibrate on. Face the camera and try again.")
        self.calibration = baseline_from_faces(list(self._recent_faces), "calibration")
        self._recent_pspi.clear()
        return self.calibration

    def close(self) -> None:
        """Release the tracker."""
        self.tracker.close()
