"""What the camera measured in an upload, as evidence for pre-filling a clinical scale. No Flask.

A video gets two passes: the face pipeline (``Analyzer.analyze_video``: the most
painful frame's estimate) and the body pass (``analyze_body_video``: the movement
index per part). A photo gives the face only: one frame shows no movement.
The pre-fill itself (what a measurement means for an item) is ``server/pain/scale_prefill.py``.
"""
from __future__ import annotations

from typing import Any, Sequence

from server.assess.analysis import Analyzer, VideoReport
from server.pain.estimator import PainEstimator
from server.pain.scale_prefill import CameraEvidence
from server.vision.body import BODY_VIDEO_FPS, PartFinder, analyze_body_video
from server.vision.face import FaceTracker
from server.vision.frames import VideoLimits


def video_evidence(
    finder: PartFinder,
    analyzer: Analyzer,
    tracker: FaceTracker,
    estimator: PainEstimator,
    video: bytes,
    references: Sequence[bytes | str],
    limits: VideoLimits,
) -> tuple[CameraEvidence, dict[str, Any]]:
    """A video -> the evidence (peak pain, movement, respiration) and a summary of what was measured."""
    report: VideoReport = analyzer.analyze_video(tracker, estimator, video, references)
    body = analyze_body_video(finder, video, limits, BODY_VIDEO_FPS)
    pain = report.peak.pain if report.peak is not None else None
    vitals = report.vitals or {}
    evidence = CameraEvidence(
        pain=pain,
        movement_index=body["movement_index"] if body["frames_with_person"] else None,
        movement_window_s=body["duration_s"],
        respiration_bpm=vitals.get("respiration_rate_bpm"),
        respiration_quality=vitals.get("respiration_quality"),
    )
    measured = {
        "kind": "video",
        "duration_s": report.summary.get("duration_s"),
        "face_level": report.summary.get("level"),
        "peak_pspi": pain.pspi if pain is not None else None,
        "movement_index": evidence.movement_index,
        "frames_with_person": body["frames_with_person"],
        "vitals": report.vitals,
    }
    return evidence, measured


def image_evidence(
    analyzer: Analyzer, tracker: FaceTracker, estimator: PainEstimator, image: bytes | str,
    references: Sequence[bytes | str],
) -> tuple[CameraEvidence, dict[str, Any]]:
    """A photo -> the face's evidence (no movement, no breathing from one frame) and what was measured."""
    result, _png = analyzer.analyze_image(tracker, estimator, image, references, None, False, None)
    measured = {
        "kind": "image", "duration_s": None, "face_level": result.pain.level if result.pain else None,
        "peak_pspi": result.pain.pspi if result.pain else None, "movement_index": None,
        "frames_with_person": None, "vitals": None,
    }
    return CameraEvidence(pain=result.pain), measured
