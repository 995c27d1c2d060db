"""One live camera stream: tracking, the person's baseline, and a Result per frame. No Socket.IO here."""
from __future__ import annotations

import dataclasses
from collections import deque

from server.assess.analysis import assess
from server.assess.frame_step import FrameStep, FrameView
from server.assess.stage_clock import StageClock
from server.config import Settings
from server.pain.face.baseline import POPULATION_BASELINE, NeutralBaseline, RollingBaseline, baseline_from_faces
from server.pain.face.blendshapes import vector as blendshape_vector
from server.pain.estimate import stability
from server.pain.estimator import Observation, PainEstimator
from server.pain.facs.geometry import GeometryEstimator
from server.pain.facs.pain_head import level_bands, shipped_pain_head
from server.pain.physiology.physiology import RestingHeartRate, from_camera
from server.pain.smoothing import smoother_for
from server.pain.verdict import Reading, SustainedLevel
from server.assess.speech import phrase
from server.problems import InputProblem
from server.pain.result import Result
from server.vision.body import BodyTracker
from server.vision.body_movement import LiveBodyMovement
from server.vision.face import Face, FaceTracker
from server.vision.frames import ImageLimits
from server.vitals.filters import RESAMPLE_HZ
from server.vitals.respiration import RespirationTracker, head_height
from server.vitals.rppg import HeartRate
from server.vitals.rppg_tracker import RppgTracker
from server.vitals.vital_signs import Vitals

# "Calibrate neutral" averages the faces seen in the last this-many frames
# (~0.5 s at 15 fps): enough to average out landmark jitter, short enough that
# the face the clinician saw is the one used.
CALIBRATION_FRAMES = 8
# Confidence steadiness is judged over the last this-many results (~1 s).
STABILITY_FRAMES = 15
# Heart rate is re-estimated at most this often (the 10 s window barely changes
# between frames; the spectrum costs a few ms).
VITALS_INTERVAL_S = 0.5
WAVEFORM_SECONDS = 5.0  # pulse waveform sent to the page
NO_FACE_VITALS = HeartRate(None, None, None, 0.0, "no face").as_vitals()


class LiveSession:
    """State of one stream. Frames must be given one at a time (the caller serialises)."""

    def __init__(self, settings: Settings, estimator: PainEstimator, limits: ImageLimits, body: bool = False) -> None:
        """``body``: also measure body movement (MediaPipe Pose a few times a second)."""
        self.estimator = estimator
        self.track = estimator.track()
        # The neutral baseline is always learned from the geometry, whichever
        # estimator speaks: fusion uses it, and switching estimators keeps it.
        self.geometry = GeometryEstimator(level_bands(settings), shipped_pain_head(settings))
        self.limits = limits
        self.tracker = FaceTracker(
            stream=True, max_side=settings.analysis_max_side, background_blendshapes=True,
        )
        self.step = FrameStep(self.tracker, limits)
        self.rolling = RollingBaseline(settings.rolling_baseline_seconds)
        self.calibration: NeutralBaseline | None = None
        self._recent_faces: deque[Face] = deque(maxlen=CALIBRATION_FRAMES)
        self._recent_pspi: deque[float] = deque(maxlen=STABILITY_FRAMES)
        self.sustained = SustainedLevel()  # what speech announces: the level held for the last second
        self.smoother = smoother_for(estimator)  # each reading: the median of the last fraction of a second
        self.frames_analysed = 0
        self.rppg = RppgTracker(settings.rppg_method, settings.rppg_window_s)
        self.respiration = RespirationTracker("head")  # the live page sees the face, rarely the shoulders
        self._vitals: Vitals | None = None
        self._vitals_at = float("-inf")
        self.resting = RestingHeartRate(settings.resting_heart_rate_seconds)
        self.body = LiveBodyMovement(BodyTracker(stream=True, max_side=settings.analysis_max_side)) if body else None

    @property
    def baseline(self) -> NeutralBaseline:
        """Calibration if the clinician made one, else the rolling baseline once learned, else population."""
        return self.calibration or self.rolling.current() or POPULATION_BASELINE

    def process(self, jpeg: bytes, t_ms: float) -> Result:
        """Analyse one frame captured at client time ``t_ms`` (milliseconds)."""
        clock = StageClock()
        t_s = t_ms / 1000.0
        seen = self.step.see(self.step.decode(jpeg, clock), t_s, clock=clock)
        rgb, faces, patient = seen.rgb, seen.faces, seen.patient
        baseline = self.baseline
        vitals = NO_FACE_VITALS
        evidence = physiology = None
        if patient is not None:
            self._recent_faces.append(patient)
            self.rolling.add(t_s, self.geometry.features(patient), blendshape_vector(patient.blendshapes))
            vitals = self._heart_rate(seen)
            self.resting.add(t_s, vitals)
            physiology = from_camera(vitals, self.resting.bpm, self.resting.waiting())
            clock.lap("vitals")
            observation = Observation(patient, rgb, t_s)
            self.track.add(observation)
            evidence = self.track.evidence(observation)
        clock.lap("evidence")
        steadiness = stability(self._recent_pspi)
        if patient is None and self.smoother is not None:
            self.smoother.clear()
        result = assess(self.estimator, faces, patient, baseline, steadiness, clock, vitals, evidence, physiology,
                        self.smoother, t_s)
        if result.pain is not None and result.pain.pspi is not None:
            self._recent_pspi.append(result.pain.pspi)
        if result.pain is not None:
            held = self.sustained.add(Reading(t_s, result.pain.level, result.pain.pspi)).level
            result = dataclasses.replace(
                result, speech_level=held, speech_text=phrase(result.pain, True, vitals, level=held)
            )
        elif patient is None:
            self.sustained.clear()
        if self.body is not None:
            self.body.add(t_s, rgb)
            clock.lap("body")
            result = dataclasses.replace(result, extra={"body": self.body.current()}, timing_ms=clock.total())
        self.frames_analysed += 1
        return result

    def _heart_rate(self, seen: FrameView) -> Vitals:
        """Add this frame's skin colour; the current heart rate (re-estimated every VITALS_INTERVAL_S)."""
        t_s = seen.t_s
        self.rppg.add(t_s, seen.skin, seen.box)
        self.respiration.add(t_s, head_height(seen.patient.landmarks, seen.patient.box))
        if self._vitals is None or t_s - self._vitals_at >= VITALS_INTERVAL_S:
            rate, waveform = self.rppg.current()
            if waveform is not None:
                waveform = waveform[-int(WAVEFORM_SECONDS * RESAMPLE_HZ):]
            self._vitals = dataclasses.replace(rate.as_vitals(waveform), respiration=self.respiration.current())
            self._vitals_at = t_s
        return self._vitals

    def calibrate(self) -> NeutralBaseline:
        """Take the faces of the last few frames as this person's neutral face, and the heart rate as resting."""
        if not self._recent_faces:
            raise InputProblem("no_face", "No face is visible to calibrate on. Face the camera and try again.")
        self.calibration = baseline_from_faces(list(self._recent_faces), "calibration")
        self.resting.calibrate(self._vitals)
        self._recent_pspi.clear()
        self.sustained.clear()
        if self.smoother is not None:
            self.smoother.clear()
        return self.calibration

    def close(self) -> None:
        """Release the trackers."""
        self.tracker.close()
        if self.body is not None:
            self.body.close()
