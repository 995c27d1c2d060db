"""What the camera measured in an upload, as evidence for pre-filling a clinical scale. No Flask.

A video is decoded once: the face pipeline (``Analyzer.analyze_video``: the
action units the clip held for a second, the head's breathing motion) hands each decoded frame to
the body pass (pose at BODY_VIDEO_FPS: the movement index per part and the shoulders' breathing motion).
The respiration rate is the shoulders' when they give one, else the head's.
A photo gives the face only: one frame shows no movement and no breathing.
The pre-fill itself (what a measurement means for an item) is ``server/pain/clinical/scale_prefill.py``.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from server.assess.analysis import Analyzer, Progress, VideoReport
from server.pain.estimate import PainEstimate
from server.pain.estimator import PainEstimator
from server.pain.facs.pain_head import level_bands
from server.pain.scale import level_for_pspi, pspi_from_action_units
from server.pain.clinical.scale_prefill import CameraEvidence
from server.pain.verdict import SUSTAIN_S, sustained_action_units
from server.vision.body import BODY_VIDEO_FPS, BodyParts, PartFinder, movement_summary
from server.vision.face import FaceTracker
from server.vision.frames import VideoFrame
from server.vitals.respiration import Respiration, respiration_rate
from server.vitals.vital_signs import Vitals

# What a video's face item rests on (said in its evidence).
HELD_BASIS = f"held for at least {SUSTAIN_S:g} s in the clip"


def video_evidence(
    finder: PartFinder,
    analyzer: Analyzer,
    tracker: FaceTracker,
    estimator: PainEstimator,
    video: bytes | Path,
    references: Sequence[bytes | str],
    progress: Progress | None = None,
) -> tuple[CameraEvidence, dict[str, Any]]:
    """A video (bytes or a file's path) -> the evidence (peak pain, movement, respiration) and a summary of
    what was measured, from one decode of it; ``progress`` is told how far it is."""
    body_step = 1.0 / BODY_VIDEO_FPS
    observations: list[tuple[float, BodyParts]] = []
    next_body = [0.0]

    def body_pass(frame: VideoFrame) -> None:
        """The body's pose at BODY_VIDEO_FPS, on the frames the face pass decodes anyway (one decode)."""
        if frame.t_s + 1e-6 >= next_body[0]:
            observations.append((frame.t_s, finder.process(frame.rgb)))
            next_body[0] = (np.floor(frame.t_s / body_step + 1e-6) + 1) * body_step

    report: VideoReport = analyzer.analyze_video(tracker, estimator, video, references, progress=progress,
                                                 on_frame=body_pass)
    duration = float(report.summary.get("duration_s") or 0.0)
    body = movement_summary(observations)
    respiration = _respiration(observations, report.vitals)
    pain = _held_pain(report, level_bands(analyzer.settings))
    evidence = CameraEvidence(
        pain=pain,
        face_basis=HELD_BASIS if pain is not None and pain.action_units else None,
        movement_index=body["movement_index"] if body["frames_with_person"] else None,
        movement_window_s=round(duration, 1),
        respiration_bpm=respiration.rate_bpm if respiration else None,
        respiration_quality=respiration.quality if respiration else None,
    )
    measured = {
        "kind": "video",
        "duration_s": report.summary.get("duration_s"),
        "face_level": report.summary.get("level"),
        "peak_pspi": report.peak.pain.pspi if report.peak is not None and report.peak.pain is not None else None,
        "movement_index": evidence.movement_index,
        "frames_with_person": body["frames_with_person"],
        "vitals": report.vitals.to_dict() if report.vitals is not None else None,
        "respiration": respiration.as_vitals() if respiration else None,
    }
    return evidence, measured


def _held_pain(report: VideoReport, thresholds: Sequence[float]) -> PainEstimate | None:
    """The most painful frame's estimate with the action units (and their PSPI) the clip held for SUSTAIN_S
    instead of that frame's own: the face items grade what the face kept doing, not a one-frame spike."""
    peak = report.peak.pain if report.peak is not None else None
    if peak is None or not peak.action_units:
        return peak  # a learned estimator's level: already judged per window
    timed = [(t, result.pain.action_units) for t, result in report.samples
             if result.pain is not None and result.pain.action_units]
    units = sustained_action_units(timed)
    pspi = pspi_from_action_units(units)
    return replace(peak, action_units=units, pspi=pspi, level=level_for_pspi(pspi, thresholds))


def _respiration(observations: list[tuple[float, BodyParts]], vitals: Vitals | None) -> Respiration | None:
    """The shoulders' breathing rate when they give one, else the head's (from the face pass), else None."""
    seen = [(t, parts.shoulders) for t, parts in observations if parts.shoulders]
    shoulders = None
    if len(seen) > 1:
        # In shoulder widths; one median width for the clip, as a frame's own width is noisier than breathing.
        width = float(np.median([line[1] for _, line in seen]))
        shoulders = respiration_rate([t for t, _ in seen], [line[0] / width for _, line in seen], "shoulders")
    if shoulders is not None and shoulders.rate_bpm is not None:
        return shoulders
    head = vitals.respiration if vitals is not None else None
    if head is not None and head.rate_bpm is not None:
        return head
    return shoulders


def image_evidence(
    analyzer: Analyzer, tracker: FaceTracker, estimator: PainEstimator, image: bytes | str,
    references: Sequence[bytes | str],
) -> tuple[CameraEvidence, dict[str, Any]]:
    """A photo -> the face's evidence (no movement, no breathing from one frame) and what was measured."""
    result, _png = analyzer.analyze_image(tracker, estimator, image, references, None, False, None)
    measured = {
        "kind": "image", "duration_s": None, "face_level": result.pain.level if result.pain else None,
        "peak_pspi": result.pain.pspi if result.pain else None, "movement_index": None,
        "frames_with_person": None, "vitals": None, "respiration": None,
    }
    return CameraEvidence(pain=result.pain), measured
