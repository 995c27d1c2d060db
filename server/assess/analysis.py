"""Uploads: one photo or one video, from bytes to Result. Pure Python, no web framework.

The caller lends a static-mode :class:`FaceTracker` (they are not thread-safe
and cost ~0.3 s to create, so the web layer keeps a pool).
"""
from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from server.config import Settings
from server.pain import scale
from server.pain.face.baseline import POPULATION_BASELINE, NeutralBaseline, RollingBaseline, baseline_from_faces
from server.pain.face.blendshapes import vector as blendshape_vector
from server.pain.estimate import PainEstimate, stability
from server.pain.estimator import Observation, PainEstimator, frame_fps
from server.pain.physiology.fusion import FusionEstimator
from server.pain.facs.geometry import GeometryEstimator
from server.pain.facs.pain_head import level_bands, shipped_pain_head
from server.pain.physiology.physiology import Physiology, VideoHeartRate
from server.pain.verdict import Reading, clip_verdict
from server.problems import InputProblem
from server.pain.result import Result
from server.pain.smoothing import ReadingSmoother, smoother_for
from server.assess.frame_step import FrameStep
from server.assess.overlay import draw_overlay
from server.assess.speech import phrase
from server.assess.stage_clock import StageClock
from server.vision.face import Face, FaceTracker
from server.vision.frames import ImageLimits, VideoFrame, VideoLimits, VideoSource, open_video
from server.vitals.region_fusion import traces_from_rows, window_spectrum
from server.vitals.respiration import head_height, respiration_rate
from server.vitals.rppg import VIDEO_MAX_FPS, estimate_recording, estimate_series
from server.vitals.rppg_tracker import MotionMeter
from server.vitals.skin_between import SkinBetweenDetections
from server.vitals.vital_signs import Vitals, series_point

# Video: PSPI stability is judged over this many neighbouring samples (~1 s at 5 fps).
VIDEO_STABILITY_SAMPLES = 5
# The share of a video's work done when its frames are read; the rest (heart rate, the report, the peak
# frame's overlay) is reported done at the end. Measured: the frame pass is >95% of a clip's time.
FRAME_PASS_SHARE = 0.95

# Told how far a video's analysis is: (fraction done 0-1, sampled frames analysed). A job's reporter
# (server/assess/jobs.py) raises from it to stop the analysis when the job is cancelled.
Progress = Callable[[float, int], None]


# Frame times within this of a sampling mark count as on it (float time stamps).
SAMPLE_TIME_EPSILON_S = 1e-6


def next_sample_after(t_s: float, sample_step: float) -> float:
    """The sampling mark after a sampled frame at ``t_s``: a video is sampled at the first frame at or after
    each multiple of ``sample_step`` (also how the pain head's fitting reads its clips)."""
    return (np.floor(t_s / sample_step + SAMPLE_TIME_EPSILON_S) + 1) * sample_step


def image_limits(settings: Settings) -> ImageLimits:
    """Still-image caps from the settings."""
    return ImageLimits(settings.max_image_bytes, settings.max_image_pixels, settings.min_image_side,
                       decode_max_side=settings.analysis_max_side, max_decode_bytes=settings.max_decode_bytes)


def video_limits(settings: Settings) -> VideoLimits:
    """Video caps from the settings."""
    return VideoLimits(
        settings.max_video_bytes, settings.max_video_seconds, settings.video_sample_fps, settings.max_image_pixels
    )


def assess(
    estimator: PainEstimator,
    faces: Sequence[Face],
    patient: Face | None,
    baseline: NeutralBaseline,
    steadiness: float,
    clock: StageClock,
    vitals: Vitals | None = None,
    evidence: Any = None,
    physiology: Physiology | None = None,
    smoother: ReadingSmoother | None = None,
    t_s: float = 0.0,
) -> Result:
    """The Result for a patient face (or none) against a baseline: the one place results are built.

    ``physiology`` (a heart rate against the resting rate) counts only for the fusion estimator.
    ``smoother``: a stream's or video's :class:`ReadingSmoother`, given this reading at time ``t_s``.
    """
    pain = estimator.estimate(patient, baseline, steadiness, evidence) if patient is not None else None
    if pain is not None and isinstance(estimator, FusionEstimator):
        pain = estimator.with_physiology(pain, physiology)
    if smoother is not None:
        pain = smoother.add(t_s, pain)
    clock.lap("pain")
    return Result(
        face=patient,
        faces=tuple(faces),
        pain=pain,
        speech_text=phrase(pain, patient is not None, vitals),
        timing_ms=clock.total(),
        vitals=vitals,
    )


@dataclass
class VideoReport:
    """A video's PSPI timeline, its summary and the Result of its most painful frame."""

    timeline: list[dict[str, Any]]
    summary: dict[str, Any]
    peak: Result | None
    peak_overlay_png: bytes | None
    vitals: Vitals | None = None
    # Every sampled frame's (time, Result), for the patient record (server/per_second.py); not in to_dict.
    samples: list[tuple[float, Result]] = field(default_factory=list)
    peak_t_s: float | None = None  # time of the most painful frame in the video (not in to_dict)
    speech_text: str = "No face found in the video."  # said for the clip: its sustained verdict

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        peak = self.peak.to_dict() if self.peak else None
        if peak is not None and self.peak_overlay_png is not None:
            peak["overlay_png"] = png_data_url(self.peak_overlay_png)
        speech = self.speech_text
        return {
            "timeline": self.timeline,
            "summary": self.summary,
            "vitals": self.vitals.to_dict() if self.vitals is not None else None,
            "peak": peak,
            "speech": {"text": speech},
        }


def png_data_url(png: bytes) -> str:
    """A PNG as a ``data:`` URL the page can show directly."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class Analyzer:
    """Analyses uploaded photos and videos."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.image_limits = image_limits(settings)
        self.video_limits = video_limits(settings)
        # Neutral baselines are always measured with the geometry, whatever estimator judges the pain.
        self.geometry = GeometryEstimator(level_bands(settings), shipped_pain_head(settings))

    def reference_baseline(self, tracker: FaceTracker, references: Sequence[bytes | str]) -> NeutralBaseline:
        """The person's neutral face from reference photos, or the population baseline if none."""
        if not references:
            return POPULATION_BASELINE
        if len(references) > self.settings.max_reference_images:
            raise InputProblem(
                "too_many_references", "At most %(most)s reference images are accepted.",
                most=self.settings.max_reference_images,
            )
        step = FrameStep(tracker, self.image_limits, skin=False)
        faces = []
        for number, data in enumerate(references, start=1):
            patient = step.see(step.decode(data)).patient
            if patient is None:
                raise InputProblem("reference_no_face", "No face was found in reference image %(number)s.",
                                   number=number)
            faces.append(patient)
        return baseline_from_faces(faces, "reference")

    def analyze_image(
        self,
        tracker: FaceTracker,
        estimator: PainEstimator,
        image: bytes | str,
        references: Sequence[bytes | str] = (),
        face_index: int | None = None,
        overlay: bool = False,
        physiology: Physiology | None = None,
    ) -> tuple[Result, bytes | None]:
        """Result for one photo (and the overlay PNG when asked); ``physiology`` from an ECG taken with it."""
        if estimator.needs_sequence:
            raise InputProblem(
                "estimator_needs_video",
                "The %(estimator)s estimator reads several seconds of a face: send a video or use the live camera.",
                estimator=repr(estimator.name),
            )
        clock = StageClock()
        step = FrameStep(tracker, self.image_limits, skin=False)
        rgb = step.decode(image, clock)
        baseline = self.reference_baseline(tracker, references)
        clock.lap("reference")
        seen = step.see(rgb, face_index=face_index, clock=clock)
        faces, patient = seen.faces, seen.patient
        evidence = None
        if patient is not None:
            track = estimator.track()
            observation = Observation(patient, rgb, 0.0)
            track.add(observation)
            evidence = track.evidence(observation)
            clock.lap("evidence")
        result = assess(estimator, faces, patient, baseline, 1.0, clock, evidence=evidence, physiology=physiology)
        png = draw_overlay(rgb, faces, patient, result.pain) if overlay else None
        return result, png

    def analyze_video(
        self,
        tracker: FaceTracker,
        estimator: PainEstimator,
        data: bytes | Path,
        references: Sequence[bytes | str] = (),
        face_index: int | None = None,
        ecg: Physiology | None = None,
        progress: Progress | None = None,
        on_frame: Callable[[VideoFrame], None] | None = None,
    ) -> VideoReport:
        """PSPI over a video's sampled frames, its heart rate, a summary, and its most painful frame.

        Fusion adds ``ecg`` (an ECG recorded with the video) to every sample when
        given, else the video's own camera heart rate at each sample's time
        against the video's resting rate.

        One pass, one face detection per sampled frame (issue 26): every frame (up to
        VIDEO_MAX_FPS) is decoded for the skin colour; every 1/sample_fps seconds one is
        looked at by the static face tracker, as the reference photos are, and kept for pain
        with the evidence its estimator needs (landmarks, an aligned crop or a landmark
        window), never the frame itself. An estimator reading a window of frames
        (``frame_fps``) has faces found at its own rate. The frames in between get their
        skin regions from the landmarks interpolated between the detections around them
        (``server/vitals/skin_between.py``), so memory stays small however long the video.
        ``data`` is the video's bytes or the path of a file holding them (read in place);
        ``progress`` is told after every sample; ``on_frame`` sees every decoded frame (up to
        VIDEO_MAX_FPS), so another pass over the same clip (the pre-fill's body pass) needs
        no decode of its own.
        """
        baseline = self.reference_baseline(tracker, references)
        sample_step = 1.0 / self.video_limits.sample_fps
        face_step = 1.0 / max(self.video_limits.sample_fps, frame_fps(estimator))
        samples: list[_Sample] = []
        skin: dict[str, list[tuple[float, np.ndarray]]] = {}
        between = SkinBetweenDetections(max_held=int(np.ceil(VIDEO_MAX_FPS * face_step)) + 1)
        motion_meter = MotionMeter()
        motion: list[float] = []  # face motion per second between consecutive detections
        head: list[tuple[float, float]] = []  # (t, the face's height in face heights): breathing moves it
        step = FrameStep(tracker, skin=False)  # the skin colour is measured by ``between``
        track = estimator.track()

        def keep_skin(rows: list[tuple[float, Any]]) -> None:
            for t_s, means in rows:
                for region, mean in means.items():
                    skin.setdefault(region, []).append((t_s, mean))

        with open_video(data, self.video_limits) as video:
            next_sample = next_face = 0.0
            last_t = 0.0
            for frame in video.frames(VIDEO_MAX_FPS):
                if on_frame is not None:
                    on_frame(frame)
                last_t = frame.t_s
                due_sample = frame.t_s + SAMPLE_TIME_EPSILON_S >= next_sample
                if not due_sample and frame.t_s + SAMPLE_TIME_EPSILON_S < next_face:
                    between.frame(frame.t_s, frame.rgb)
                    continue
                seen = step.see(frame.rgb, None, face_index, strict=False)
                faces, patient = seen.faces, seen.patient
                keep_skin(between.detection(frame.t_s, frame.rgb, patient.landmarks if patient else None))
                next_face = next_sample_after(frame.t_s, face_step)
                observation = None
                if patient is not None:
                    motion.append(motion_meter.update(frame.t_s, seen.box)[0])
                    head.append((frame.t_s, head_height(patient.landmarks, patient.box)))
                    observation = Observation(patient, frame.rgb, frame.t_s)
                    track.add(observation)
                if due_sample:
                    evidence = track.evidence(observation) if observation is not None else None
                    samples.append(_Sample(frame.t_s, frame.index, faces, patient, evidence))
                    next_sample = next_sample_after(frame.t_s, sample_step)
                    if progress is not None:
                        progress(_fraction_read(frame.t_s, video.info.duration_s), len(samples))
            keep_skin(between.finish())
            typical_motion = float(np.median(motion)) if motion else 0.0
            vitals = video_vitals(skin, self.settings.rppg_method, self.settings.rppg_window_s, typical_motion)
            if vitals is not None and head:
                vitals = dataclasses.replace(vitals, respiration=respiration_rate(*zip(*head), source="head"))
            physiology_at: Callable[[float], Physiology | None] = (
                VideoHeartRate(vitals, self.settings.resting_heart_rate_seconds).at if ecg is None
                else lambda _t: ecg  # one ECG arousal for the whole video
            )
            report = self._pain_report(estimator, samples, baseline, references, vitals, video, physiology_at)
            duration = max(video.info.duration_s, last_t)
        report.summary = {"duration_s": round(duration, 3), **report.summary}
        if progress is not None:
            progress(1.0, len(samples))
        return report

    def _pain_report(
        self,
        estimator: PainEstimator,
        samples: list["_Sample"],
        baseline: NeutralBaseline,
        references: Sequence[bytes | str],
        vitals: Vitals | None,
        video: "VideoSource",
        physiology_at: Callable[[float], Physiology | None],
    ) -> VideoReport:
        if not references:
            baseline = _video_baseline(self.geometry, samples) or baseline
        timeline: list[dict[str, Any]] = []
        results: list[Result] = []
        recent: list[float] = []
        smoother = smoother_for(estimator)
        for sample in samples:
            if smoother is not None and sample.patient is None:
                smoother.clear()
            result = assess(
                estimator, sample.faces, sample.patient, baseline, stability(recent), StageClock(),
                evidence=sample.evidence, physiology=physiology_at(sample.t_s), smoother=smoother, t_s=sample.t_s,
            )
            if result.pain is not None and result.pain.pspi is not None:
                recent = (recent + [result.pain.pspi])[-VIDEO_STABILITY_SAMPLES:]
            results.append(result)
            timeline.append({
                "t_s": round(sample.t_s, 3),
                "face_found": sample.patient is not None,
                "pspi": result.pain.pspi if result.pain else None,
                "level": result.pain.level if result.pain else None,
            })
        assessed = [(_severity(r.pain), i) for i, r in enumerate(results) if r.pain is not None]
        peak = png = peak_t_s = None
        if assessed:
            best_index = max(assessed)[1]
            best = samples[best_index]
            peak_t_s = round(best.t_s, 3)
            # the reading the timeline showed at that moment, with the clip's vitals beside it
            reading = results[best_index]
            peak = dataclasses.replace(reading, vitals=vitals, speech_text=phrase(reading.pain, True, vitals))
            png = draw_overlay(video.frame_at(best.index), best.faces, best.patient, peak.pain)
        pspis = [r.pain.pspi for r in results if r.pain is not None and r.pain.pspi is not None]
        verdict = clip_verdict([
            Reading(sample.t_s, r.pain.level, r.pain.pspi) for sample, r in zip(samples, results) if r.pain is not None
        ])
        held = verdict.to_dict()
        summary = {
            **_summary(pspis, timeline, baseline, self.video_limits.sample_fps),
            "level": held["level"], "sustained_pspi": held["pspi"], "sustain_s": held["sustain_s"],
            "context": sorted({c for r in results if r.pain is not None for c in (r.pain.context or ())}),
        }
        speech = phrase(peak.pain, True, vitals, level=verdict.level) if peak is not None else VideoReport.speech_text
        return VideoReport(
            timeline=timeline, summary=summary, peak=peak, peak_overlay_png=png, vitals=vitals,
            samples=[(sample.t_s, result) for sample, result in zip(samples, results)], peak_t_s=peak_t_s,
            speech_text=speech,
        )


def video_vitals(
    skin: dict[str, list[tuple[float, np.ndarray]]], method: str, window_s: float, motion_per_s: float = 0.0
) -> Vitals | None:
    """Heart rate over a whole video, the per-window series and the last window's waveform."""
    regions = traces_from_rows(skin)
    if not regions:
        return None
    overall = estimate_recording(regions, method, window_s, motion_per_s=motion_per_s)
    # The series is measured even when the whole recording gives no single rate: a heart
    # rate that changes (66 then 102 bpm) has no one rate, yet every window has its own.
    series = estimate_series(regions, method, window_s) if overall.reason != "too much motion" else []
    end = max(r.t_s[-1] for r in regions)
    last = window_spectrum([r.between(end - window_s, end) for r in regions], method)
    waveform = last.waveform if last is not None and overall.bpm is not None else None
    points = tuple(series_point(t, r.bpm, r.quality, r.snr_db) for t, r in series)
    return dataclasses.replace(overall.as_vitals(waveform), series=points)


@dataclass(frozen=True)
class _Sample:
    """A video frame kept for pain: its time, index in the file, faces and the estimator's evidence (no pixels)."""

    t_s: float
    index: int
    faces: list[Face]
    patient: Face | None
    evidence: Any = None


def _fraction_read(t_s: float, duration_s: float) -> float:
    """How much of a video's work is done once its frames up to ``t_s`` are read (0 when its length is unknown)."""
    if duration_s <= 0:
        return 0.0
    return FRAME_PASS_SHARE * min(1.0, max(0.0, t_s / duration_s))


def _severity(pain: PainEstimate) -> tuple[int, float]:
    """Orders estimates from least to most pain: by level, then PSPI when there is one."""
    return scale.LEVELS.index(pain.level), pain.pspi if pain.pspi is not None else 0.0


def _video_baseline(estimator: GeometryEstimator, samples: Sequence[_Sample]) -> NeutralBaseline | None:
    """The person's neutral learned from the whole video, as a live stream learns it."""
    rolling = RollingBaseline(window_s=float("inf"))
    for sample in samples:
        if sample.patient is not None:
            rolling.add(sample.t_s, estimator.features(sample.patient), blendshape_vector(sample.patient.blendshapes))
    return rolling.current()


def _summary(
    pspis: list[float],
    timeline: list[dict[str, Any]],
    baseline: NeutralBaseline,
    sample_fps: float,
) -> dict[str, Any]:
    seconds = {level: 0.0 for level in scale.LEVELS}
    for entry in timeline:
        if entry["level"] is not None:
            seconds[entry["level"]] += 1.0 / sample_fps
    return {
        "frames_analysed": len(timeline),
        "frames_with_face": len(pspis),
        "max_pspi": max(pspis) if pspis else None,
        "mean_pspi": round(float(np.mean(pspis)), 2) if pspis else None,
        "seconds_by_level": {level: round(s, 2) for level, s in seconds.items()},
        "baseline": baseline.kind,
    }
