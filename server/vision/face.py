"""Face landmarks with MediaPipe Face Mesh (478 points with refined eyes and irises).

``FaceTracker`` wraps one MediaPipe graph. Static mode re-detects in every
image (photos, sampled video frames); stream mode tracks a face from frame to
frame (live camera), which is faster and steadier. A graph is not thread-safe:
one tracker serves one caller at a time (``FaceTracker`` holds a lock).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import cv2
import numpy as np

from server.problems import InputProblem
from server.vision.frames import downscale

LANDMARK_COUNT = 478  # Face Mesh 468 + 2 x 5 iris points (refine_landmarks=True)

# Landmark indices (MediaPipe canonical face mesh topology).
RIGHT_EYE_OUTER, RIGHT_EYE_INNER = 33, 133  # subject's right eye: image left on a frontal face
LEFT_EYE_INNER, LEFT_EYE_OUTER = 362, 263
FOREHEAD_TOP, CHIN = 10, 152
RIGHT_FACE_SIDE, LEFT_FACE_SIDE = 234, 454

# MediaPipe detector settings. 0.5 is MediaPipe's documented default for both.
MIN_DETECTION_CONFIDENCE = 0.5
MIN_TRACKING_CONFIDENCE = 0.5
DEFAULT_MAX_FACES = 4  # a patient with a carer or two in view; more only costs time

# Quality model: each factor maps one measurable property to [0, 1]; quality is
# their product, so one bad property (tiny, blurred, dark, turned away) is enough
# to make the figure low.
# Inter-ocular distance (outer corners) in pixels. Face Mesh runs on a 192 px
# crop where the eyes are ~70 px apart; below ~12 px in the source the eyelids
# and brows are a few pixels tall and landmark error dominates.
IOD_UNUSABLE_PX = 12.0
IOD_GOOD_PX = 45.0
# Sharpness: variance of the Laplacian of the face crop resized to 128 px wide.
# ~100 is the usual blur threshold for that measure; crisp webcam faces give 200+.
SHARPNESS_CROP_WIDTH = 128
SHARPNESS_GOOD = 100.0
# Exposure: mean 8-bit luma of the face box. Outside roughly 60-200 skin detail
# clips (ITU-R BT.601 luma); below 15 or above 245 there is nothing to measure.
LUMA_DARK, LUMA_LOW, LUMA_HIGH, LUMA_BRIGHT = 15.0, 60.0, 200.0, 245.0
# Head turn: the geometry is frontalised, but beyond ~20 deg one side of the face
# is foreshortened and landmarks there are guessed; at ~60 deg one eye is hidden.
TURN_GOOD_DEG, TURN_UNUSABLE_DEG = 20.0, 60.0


@dataclass(frozen=True)
class Face:
    """One face: box ``(x, y, w, h)`` in image pixels, 478x3 landmarks and a quality in [0, 1].

    Landmarks are pixel coordinates; ``z`` uses the same pixel scale as ``x``
    (MediaPipe's convention), smaller ``z`` being nearer the camera.
    """

    box: tuple[int, int, int, int]
    landmarks: np.ndarray
    quality: float
    turn_deg: float

    @property
    def area(self) -> int:
        """Box area in pixels (the largest face is taken as the patient)."""
        return self.box[2] * self.box[3]


class FaceTracker:
    """MediaPipe Face Mesh, static (photos) or stream (live) mode."""

    def __init__(self, stream: bool = False, max_faces: int = DEFAULT_MAX_FACES, max_side: int = 1280) -> None:
        import mediapipe as mp  # imported here: loading the graph costs ~0.3 s, only when needed

        self.stream = stream
        self.max_side = max_side
        self._lock = threading.Lock()
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=not stream,
            max_num_faces=max_faces,
            refine_landmarks=True,
            min_detection_confidence=MIN_DETECTION_CONFIDENCE,
            min_tracking_confidence=MIN_TRACKING_CONFIDENCE,
        )

    def process(self, rgb: np.ndarray) -> list[Face]:
        """All faces in an RGB uint8 image, largest first (empty list: no face)."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise InputProblem("bad_frame", "Expected an RGB image.")
        height, width = rgb.shape[:2]
        small = downscale(rgb, self.max_side)
        with self._lock:
            result = self._mesh.process(small)
        faces = []
        for face_landmarks in result.multi_face_landmarks or ():
            points = np.array([(p.x, p.y, p.z) for p in face_landmarks.landmark], dtype=np.float64)
            points *= (width, height, width)  # normalised -> pixels; z shares x's scale
            faces.append(_make_face(points, rgb))
        faces.sort(key=lambda f: f.area, reverse=True)
        return faces

    def close(self) -> None:
        """Release the MediaPipe graph."""
        with self._lock:
            self._mesh.close()


def _make_face(points: np.ndarray, rgb: np.ndarray) -> Face:
    height, width = rgb.shape[:2]
    x0, y0 = np.floor(points[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(points[:, :2].max(axis=0)).astype(int)
    x0, y0 = max(0, x0), max(0, y0)
    x1, y1 = min(width, x1), min(height, y1)
    box = (int(x0), int(y0), int(max(0, x1 - x0)), int(max(0, y1 - y0)))
    turn = head_turn_deg(points)
    quality = face_quality(points, rgb, box, turn)
    return Face(box=box, landmarks=points, quality=quality, turn_deg=turn)


def head_turn_deg(points: np.ndarray) -> float:
    """Angle in degrees between the face's forward direction and the camera axis."""
    right = points[LEFT_FACE_SIDE] - points[RIGHT_FACE_SIDE]
    up = points[CHIN] - points[FOREHEAD_TOP]  # image y grows downwards
    normal = np.cross(right, up)
    norm = np.linalg.norm(normal)
    if norm == 0:
        return 90.0
    # A frontal face has its normal along +z in these coordinates (right x down = +z).
    cos_angle = float(np.clip(normal[2] / norm, -1.0, 1.0))
    return float(np.degrees(np.arccos(cos_angle)))


def face_quality(points: np.ndarray, rgb: np.ndarray, box: tuple[int, int, int, int], turn_deg: float) -> float:
    """Product of size, sharpness, exposure, head-turn and in-frame factors, in [0, 1]."""
    height, width = rgb.shape[:2]
    iod = float(np.linalg.norm(points[RIGHT_EYE_OUTER, :2] - points[LEFT_EYE_OUTER, :2]))
    size_q = _ramp(iod, IOD_UNUSABLE_PX, IOD_GOOD_PX)
    inside = (points[:, 0] >= 0) & (points[:, 0] < width) & (points[:, 1] >= 0) & (points[:, 1] < height)
    in_frame_q = float(inside.mean())
    x, y, w, h = box
    if w < 2 or h < 2:
        return 0.0
    crop = cv2.cvtColor(rgb[y : y + h, x : x + w], cv2.COLOR_RGB2GRAY)
    luma = float(crop.mean())
    exposure_q = min(_ramp(luma, LUMA_DARK, LUMA_LOW), 1.0 - _ramp(luma, LUMA_HIGH, LUMA_BRIGHT))
    scaled = cv2.resize(crop, (SHARPNESS_CROP_WIDTH, max(2, round(h * SHARPNESS_CROP_WIDTH / w))))
    sharp_q = _ramp(float(cv2.Laplacian(scaled, cv2.CV_64F).var()), 0.0, SHARPNESS_GOOD)
    turn_q = 1.0 - _ramp(turn_deg, TURN_GOOD_DEG, TURN_UNUSABLE_DEG)
    return round(size_q * in_frame_q * exposure_q * sharp_q * turn_q, 3)


def _ramp(value: float, low: float, high: float) -> float:
    """0 at ``low``, 1 at ``high``, linear between, clipped."""
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))
