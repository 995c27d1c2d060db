"""The annotated overlay image: face boxes, the landmarks the AUs use, PSPI and level."""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from server.pain.estimate import PainEstimate
from server.pain.face.landmarks import (
    LEFT_BROW_LOWER,
    LEFT_LID_PAIRS,
    NOSE_ALAE,
    RIGHT_BROW_LOWER,
    RIGHT_LID_PAIRS,
    UPPER_LIP_TOP,
)
from server.vision.face import Face

# Level colours (RGB), the same hues the page uses: green, amber, orange, red.
LEVEL_COLOURS = {
    "none": (46, 160, 67),
    "mild": (230, 170, 0),
    "moderate": (240, 110, 20),
    "severe": (210, 30, 30),
}
OTHER_FACE_COLOUR = (150, 150, 150)
_FEATURE_POINTS = sorted(
    {*RIGHT_BROW_LOWER, *LEFT_BROW_LOWER, *NOSE_ALAE, *UPPER_LIP_TOP}
    | {i for pair in RIGHT_LID_PAIRS + LEFT_LID_PAIRS for i in pair}
)
OVERLAY_MAX_SIDE = 960  # px; the page shows it at most this large


def draw_overlay(rgb: np.ndarray, faces: Sequence[Face], patient: Face | None, pain: PainEstimate | None) -> bytes:
    """PNG bytes of the image with every face boxed and the patient's result written on it."""
    scale = min(1.0, OVERLAY_MAX_SIDE / max(rgb.shape[:2]))
    canvas = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb.copy()
    thickness = max(2, round(max(canvas.shape[:2]) / 300))
    for face in faces:
        if face is not patient:
            _box(canvas, face.box, scale, OTHER_FACE_COLOUR, thickness)
    if patient is not None:
        colour = LEVEL_COLOURS[pain.level] if pain else OTHER_FACE_COLOUR
        _box(canvas, patient.box, scale, colour, thickness)
        for x, y, _ in patient.landmarks[_FEATURE_POINTS] * scale:
            cv2.circle(canvas, (int(x), int(y)), max(1, thickness // 2), colour, -1, cv2.LINE_AA)
        if pain is not None:
            x, y = int(patient.box[0] * scale), int(patient.box[1] * scale)
            label = pain.level if pain.pspi is None else f"PSPI {pain.pspi:.1f} {pain.level}"
            font_scale = thickness * 0.35
            (w, h), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
            top = max(0, y - h - base - 4)
            cv2.rectangle(canvas, (x, top), (x + w + 4, top + h + base + 4), colour, -1)
            cv2.putText(canvas, label, (x + 2, top + h + 2), cv2.FONT_HERSHEY_SIMPLEX, font_scale,
                        (255, 255, 255), thickness, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("PNG encoding failed")
    return png.tobytes()


def _box(canvas: np.ndarray, box: tuple[int, int, int, int], scale: float, colour: tuple, thickness: int) -> None:
    x, y, w, h = (int(v * scale) for v in box)
    cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thickness, cv2.LINE_AA)
