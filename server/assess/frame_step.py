"""The per-frame step every path shares: decode -> faces -> the patient -> the patient's skin colour.

The live stream (``assess/live_session.py``), the uploads (``assess/analysis.py``)
and the heart-rate session APIs (``web/requests/rppg_sessions.py``) each see frames
through a :class:`FrameStep`, so a frame is read the same way wherever it
comes from. What follows (the estimator, the heart-rate tracker) stays with
the caller. No Flask here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from server.assess.stage_clock import StageClock
from server.pain.result import choose_patient
from server.problems import InputProblem
from server.vision.face import Face, FaceTracker
from server.vision.frames import ImageLimits, decode_image
from server.vitals.skin import full_frame_patches, region_means


@dataclass(frozen=True)
class FrameView:
    """What one frame shows: its faces (largest first), the patient among them and the patient's skin colour.

    ``skin`` is the mean RGB per skin region (empty without a patient); for a
    pre-cropped skin frame (no face tracker) it is the whole frame's patches.
    """

    rgb: np.ndarray
    t_s: float | None
    faces: list[Face]
    patient: Face | None
    skin: Mapping[str, np.ndarray] = field(default_factory=dict)

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        """The patient's face box (what the heart-rate motion check follows), None without one."""
        return tuple(self.patient.box) if self.patient is not None else None


class FrameStep:
    """Decodes frames and finds the patient's face and skin colour in them, with one face tracker.

    ``tracker`` None: the frames are pre-cropped skin (a heart-rate session's
    ``roi=full``), read as a grid of patches without looking for a face.
    ``skin`` False: the skin colour is not measured (a photo has no heart rate).
    """

    def __init__(self, tracker: FaceTracker | None, limits: ImageLimits | None = None, skin: bool = True) -> None:
        self.tracker = tracker
        self.limits = limits
        self.skin = skin

    def decode(self, data: bytes | str, clock: StageClock | None = None, number: int | None = None) -> np.ndarray:
        """An uploaded image (bytes or base64) as RGB within the limits; ``number`` names the frame in a refusal."""
        try:
            rgb = decode_image(data, self.limits)
        except InputProblem as problem:
            if number is None:
                raise
            raise InputProblem(problem.code, "Frame %(frame)s: %(problem)s",
                               frame=number, problem=problem.message) from None
        if clock is not None:
            clock.lap("decode")
        return rgb

    def see(
        self,
        rgb: np.ndarray,
        t_s: float | None = None,
        face_index: int | None = None,
        strict: bool = True,
        clock: StageClock | None = None,
    ) -> FrameView:
        """The faces in ``rgb`` (captured at ``t_s`` in a stream), the patient and its skin colour.

        ``face_index`` picks the patient (0 = largest, None = the largest);
        ``strict`` refuses an index beyond the faces found (a photo) instead
        of seeing no patient (a video's frame).
        """
        if self.tracker is None:
            return FrameView(rgb, t_s, [], None, full_frame_patches(rgb) if self.skin else {})
        faces = self.tracker.process(rgb, t_s)
        if clock is not None:
            clock.lap("face")
            clock.carve("face", "blendshapes", self.tracker.blendshapes_ms)
        patient = pick_patient(faces, face_index, strict)
        skin = region_means(rgb, patient.landmarks) if patient is not None and self.skin else {}
        return FrameView(rgb, t_s, faces, patient, skin)


def pick_patient(faces: Sequence[Face], index: int | None, strict: bool = True) -> Face | None:
    """The face to assess (``server.pain.result.choose_patient``); an index beyond the faces found is
    refused when ``strict`` and there are faces, else there is no patient."""
    if index is not None and index >= len(faces):
        if strict and faces:
            raise InputProblem(
                "face_index_out_of_range", "Face %(index)s was asked for, but only %(found)s face(s) were found.",
                index=index, found=len(faces),
            )
        return None
    return choose_patient(faces, index)
